/** Every id strategy the service offers, as named in the API (`?strategy=`). */
export const STRATEGIES = ['snowflake', 'uuidv4', 'uuidv7', 'ulid', 'ticket', 'multi-master'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** One way of making ids. Numeric ids are returned as decimal strings: they exceed 2^53. */
export interface IdStrategy {
  generate(count: number): Promise<string[]>;
}

export const MAX_IDS_PER_REQUEST = 10_000;
