/**
 * id-generator against the id packages a user would install: ULID (monotonic) against `ulidx` and
 * `ulid`, UUIDv7 against `uuid`, Snowflake against `@sapphire/snowflake`. Speed in this process, rounds
 * alternated; beside it, what each wrote: duplicates and ids not above the one before, out of a run of
 * consecutive ids (1,000,000 in the full mode).
 */
import { Snowflake } from '@sapphire/snowflake';
import { DEFAULT_ID_EPOCH_MS, SnowflakeGenerator } from '@sysdesign/platform';
import { monotonicFactory as ulidMonotonic } from 'ulid';
import { monotonicFactory as ulidxMonotonic } from 'ulidx';
import { v7 as uuidV7 } from 'uuid';
// The service exports its app, not its domain: the bench reads the generators from their sources.
import { UlidGenerator } from '../../../../services/id-generator/src/domain/ulid.js';
import { UuidV7Generator } from '../../../../services/id-generator/src/domain/uuid.js';
import { runMicro } from '../../micro.js';
import type { PeerContext, PeerDesign, PeerDesignResult, PeerTable } from '../design.js';
import { alternateRounds, formatRate, formatRatio, formatSpread } from '../rounds.js';

type Generate = () => string | bigint;

interface Family {
  title: string;
  ours: { name: string; make: () => Generate };
  peers: { name: string; make: () => Generate }[];
}

const FAMILIES: Family[] = [
  {
    title: 'ULID, monotonic',
    ours: { name: 'ours UlidGenerator', make: () => bind(new UlidGenerator()) },
    peers: [
      { name: 'ulidx monotonicFactory', make: () => ulidxMonotonic() },
      { name: 'ulid monotonicFactory', make: () => ulidMonotonic() },
    ],
  },
  {
    title: 'UUIDv7',
    ours: { name: 'ours UuidV7Generator', make: () => bind(new UuidV7Generator()) },
    peers: [{ name: 'uuid v7()', make: () => () => uuidV7() }],
  },
  {
    title: 'Snowflake',
    ours: {
      name: 'ours SnowflakeGenerator',
      make: () => {
        const generator = new SnowflakeGenerator({
          node: { datacenterId: 1, workerId: 1 },
          epochMs: DEFAULT_ID_EPOCH_MS,
        });
        return () => generator.nextSync();
      },
    },
    peers: [
      {
        name: '@sapphire/snowflake generate()',
        make: () => {
          const snowflake = new Snowflake(DEFAULT_ID_EPOCH_MS);
          return () => snowflake.generate();
        },
      },
    ],
  },
];

/**
 * The generator as a caller uses it: a string id is read (its last character), which makes V8 flatten
 * an id built lazily from slices and concatenations, as writing or hashing it would. Without this a
 * generator that defers its string work would be timed without that work.
 */
function used(generate: Generate): () => unknown {
  return () => {
    const id = generate();
    return typeof id === 'string' ? id.charCodeAt(id.length - 1) : id;
  };
}

function bind(generator: { next(): string }): Generate {
  return () => generator.next();
}

interface Written {
  duplicates: number;
  /** Ids not strictly above the one generated before them. */
  outOfOrder: number;
}

/** Generates `count` consecutive ids from a fresh generator and counts what a user would not want. */
export function checkWritten(generate: Generate, count: number): Written {
  const first = generate();
  if (typeof first === 'bigint') return checkBigints(first, generate as () => bigint, count);
  return checkStrings(first, generate as () => string, count);
}

function checkBigints(first: bigint, generate: () => bigint, count: number): Written {
  const ids = new BigUint64Array(count);
  ids[0] = first;
  let outOfOrder = 0;
  for (let index = 1; index < count; index++) {
    ids[index] = generate();
    if (ids[index]! <= ids[index - 1]!) outOfOrder++;
  }
  ids.sort();
  let duplicates = 0;
  for (let index = 1; index < count; index++) if (ids[index] === ids[index - 1]) duplicates++;
  return { duplicates, outOfOrder };
}

function checkStrings(first: string, generate: () => string, count: number): Written {
  const seen = new Set<string>([first]);
  let previous = first;
  let outOfOrder = 0;
  for (let index = 1; index < count; index++) {
    const id = generate();
    if (id <= previous) outOfOrder++;
    seen.add(id);
    previous = id;
  }
  return { duplicates: count - seen.size, outOfOrder };
}

async function run(context: PeerContext): Promise<PeerDesignResult> {
  const sampleMs = context.smoke ? 30 : 400;
  const writtenCount = context.smoke ? 100_000 : 1_000_000;
  const speedRows: string[][] = [];
  const writtenRows: string[][] = [];
  for (const family of FAMILIES) {
    const contenders = [family.ours, ...family.peers];
    const generators = new Map(contenders.map((contender) => [contender.name, contender.make()]));
    const spreads = await alternateRounds(
      contenders.map((contender) => contender.name),
      context.rounds,
      async (name) => {
        const result = await runMicro(name, used(generators.get(name)!), { timeMs: sampleMs, samples: 1 });
        return result.opsPerSecond;
      },
      context.log,
    );
    const ours = spreads.get(family.ours.name)!;
    for (const contender of contenders) {
      const spread = spreads.get(contender.name)!;
      const isOurs = contender === family.ours;
      speedRows.push([
        family.title,
        contender.name,
        formatSpread(spread),
        isOurs ? '-' : formatRatio(ours.median, spread.median),
      ]);
      const written = checkWritten(contender.make(), writtenCount);
      writtenRows.push([
        family.title,
        contender.name,
        written.duplicates.toLocaleString('en-US'),
        written.outOfOrder.toLocaleString('en-US'),
      ]);
    }
  }
  const speed: PeerTable = {
    title: 'Ids per second, one generator, this process',
    intro: `Each sample calls the generator for ${sampleMs} ms after a warmup (runMicro) and reads the last character of each string id, as a caller writing or hashing it would (a lazily built string is flattened then).`,
    header: ['family', 'generator', 'ids/s', 'ours ÷ this'],
    nameColumns: 2,
    rows: speedRows,
  };
  const written: PeerTable = {
    title: `What each wrote: ${writtenCount.toLocaleString('en-US')} consecutive ids from one generator`,
    intro:
      'As fast as the generator goes, from a fresh instance: duplicates (the same id twice) and ids not above the one generated before them (a monotonic generator must have none).',
    header: ['family', 'generator', 'duplicates', 'not above the previous'],
    nameColumns: 2,
    rows: writtenRows,
  };
  return {
    settings: [
      'Every generator at its defaults; snowflakes on the same epoch (2024-01-01), ours for datacenter 1, worker 1.',
      `Ids per second is ${formatRate(4_096_000)}/s at most for a snowflake: 4,096 sequence numbers per millisecond per worker.`,
    ],
    tables: [speed, written],
  };
}

export const idGeneratorPeers: PeerDesign = {
  name: 'id-generator',
  peers: ['ulidx', 'ulid', 'uuid', '@sapphire/snowflake'],
  run,
  findings: [
    "ULID: ours rebuilds all 26 characters of every id (10 time digits in a loop, then 16 random digits concatenated one by one from a Uint8Array). `ulidx` and `ulid` keep the last id's random part as a string and, within the same millisecond, replace only its last character with `substr` + a character + `substr`, and prepend the time part: V8 makes sliced and cons strings of those, so no character is copied until someone reads the id. The bench reads each id's last character, so that deferred copy is counted as a caller writing or hashing the id would pay it. Encoding the time part once per millisecond and incrementing a cached string would match them.",
    'UUIDv7: `uuid` calls `crypto.getRandomValues` for 16 bytes and allocates a new 16-byte array for every id; ours draws from a pooled buffer and keeps a 42-bit counter within a millisecond, so it formats a UUID without a call into the crypto binding per id.',
    "Snowflake: `@sapphire/snowflake` keeps one increment that wraps at 4,095 whatever the time and never waits for the next millisecond, so any caller faster than 4,096 ids per millisecond gets duplicates (the table counts them) and ids that go backwards where the increment wraps within a millisecond. Its speed comes from doing no bookkeeping; ours waits at the sequence's end for the next millisecond, which is why it sits at the 4,096/ms ceiling with no duplicate.",
  ],
};
