/**
 * The shape of one design's peer benchmark: what it measures against which npm packages, and the tables
 * it produces. The registry (registry.ts) lists every design; the runner (run.ts) runs and reports them.
 */

/** What every design gets from the runner. */
export interface PeerContext {
  /** One short round per design, a few seconds each, to keep the harness from rotting (CI). */
  smoke: boolean;
  /** Rounds per measurement: alternated, medians and min-max reported. */
  rounds: number;
  /** Progress lines (stderr): stdout carries the report. */
  log: (line: string) => void;
  /** A Redis for designs that need one (a private server when redis-server is installed). */
  redisUrl?: string;
}

export interface PeerTable {
  title: string;
  /** Sentences under the title: what was measured and how. */
  intro?: string;
  header: string[];
  /** How many leading columns hold names (left-aligned); the rest hold numbers. Default 1. */
  nameColumns?: number;
  rows: string[][];
}

export interface PeerDesignResult {
  /** How the run was configured: sizes, concurrency, clients. */
  settings: string[];
  tables: PeerTable[];
}

export interface PeerDesign {
  /** kebab-case: the CLI argument and `results/peers-<name>.md`. */
  name: string;
  /** The npm packages compared against (devDependencies of load-tests): their versions go in the report. */
  peers: string[];
  /** Needs a Redis: the runner provides one or skips the design with the reason printed. */
  needsRedis?: boolean;
  run(context: PeerContext): Promise<PeerDesignResult>;
  /**
   * Why the numbers are what they are, found by profiling and reading the peers' sources: printed under
   * the tables. Written by hand after a full run; it describes code, not one run's figures.
   */
  findings: string[];
}
