/**
 * Bit layouts of 64-bit, time-sortable ids. A layout is a list of fields from the most
 * significant bit down; the sign bit stays zero so ids fit a signed 64-bit column. Encoding and
 * decoding for every preset live here and nowhere else.
 *
 *   snowflake (Twitter): 0 | 41 bits ms since epoch | 5 datacenter | 5 worker | 12 sequence
 *   sonyflake:           0 | 39 bits 10 ms units    | 8 sequence   | 16 machine
 */

export type FieldName = 'time' | 'sequence' | 'datacenterId' | 'workerId' | 'machineId';

export interface BitField {
  name: FieldName;
  bits: number;
}

export interface IdLayout {
  name: string;
  /** Length of one time unit: 1 ms for Snowflake, 10 ms for Sonyflake. */
  timeUnitMs: number;
  /** Most significant first; must include `time` and `sequence`, and add up to 63 bits. */
  fields: readonly BitField[];
}

export const SNOWFLAKE_LAYOUT: IdLayout = {
  name: 'snowflake',
  timeUnitMs: 1,
  fields: [
    { name: 'time', bits: 41 },
    { name: 'datacenterId', bits: 5 },
    { name: 'workerId', bits: 5 },
    { name: 'sequence', bits: 12 },
  ],
};

export const SONYFLAKE_LAYOUT: IdLayout = {
  name: 'sonyflake',
  timeUnitMs: 10,
  fields: [
    { name: 'time', bits: 39 },
    { name: 'sequence', bits: 8 },
    { name: 'machineId', bits: 16 },
  ],
};

export const LAYOUTS = { snowflake: SNOWFLAKE_LAYOUT, sonyflake: SONYFLAKE_LAYOUT } as const;
export type LayoutName = keyof typeof LAYOUTS;

export const MAX_ID = (1n << 63n) - 1n;

interface FieldPosition {
  name: FieldName;
  bits: number;
  shift: number;
  max: number;
}

/** A layout with each field's shift computed once. */
export class CompiledLayout {
  readonly positions: readonly FieldPosition[];
  private readonly byName: Map<FieldName, FieldPosition>;

  constructor(readonly layout: IdLayout) {
    let shift = 63;
    this.positions = layout.fields.map((field) => {
      shift -= field.bits;
      return { name: field.name, bits: field.bits, shift, max: 2 ** field.bits - 1 };
    });
    if (shift !== 0) throw new Error(`layout ${layout.name} uses ${63 - shift} bits, not 63`);
    this.byName = new Map(this.positions.map((position) => [position.name, position]));
    for (const required of ['time', 'sequence'] as const) {
      if (!this.byName.has(required)) throw new Error(`layout ${layout.name} has no ${required} field`);
    }
  }

  field(name: FieldName): FieldPosition | undefined {
    return this.byName.get(name);
  }

  get timeField(): FieldPosition {
    return this.byName.get('time')!;
  }

  get sequenceField(): FieldPosition {
    return this.byName.get('sequence')!;
  }

  /** The names of the fields that identify the generating node (all but time and sequence). */
  get nodeFieldNames(): FieldName[] {
    return this.positions
      .map((position) => position.name)
      .filter((name) => name !== 'time' && name !== 'sequence');
  }

  encode(values: Partial<Record<FieldName, number>>): bigint {
    let id = 0n;
    for (const position of this.positions) {
      const value = values[position.name] ?? 0;
      if (!Number.isInteger(value) || value < 0 || value > position.max) {
        throw new RangeError(
          `${position.name} ${value} does not fit in ${position.bits} bits (0..${position.max})`,
        );
      }
      id |= BigInt(value) << BigInt(position.shift);
    }
    return id;
  }

  decode(id: bigint): Record<FieldName, number> {
    if (id < 0n || id > MAX_ID) throw new RangeError(`id ${id} is not a non-negative 63-bit number`);
    const values = {} as Record<FieldName, number>;
    for (const position of this.positions) {
      values[position.name] = Number((id >> BigInt(position.shift)) & BigInt(position.max));
    }
    return values;
  }
}
