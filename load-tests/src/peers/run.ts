import type { PeerContext, PeerDesign } from './design.js';
import { withBenchRedis } from './private-redis.js';
import { PEER_DESIGNS } from './registry.js';
import { renderPeerReport, writePeerReport } from './report.js';

const FULL_ROUNDS = 3;
const SMOKE_ROUNDS = 1;

export interface PeerBenchOptions {
  /** Design names; empty runs them all. */
  designs: readonly string[];
  smoke: boolean;
  /** Write `results/peers-<design>.md`. The smoke mode never should: its numbers mean nothing. */
  write: boolean;
  log?: (line: string) => void;
  /** Rounds per measurement. Default 3 (full), 1 (smoke). */
  rounds?: number;
}

export interface PeerBenchOutcome {
  design: string;
  /** The report, or undefined when the design was skipped. */
  markdown?: string;
  path?: string;
  skipped?: string;
}

/** Runs the designs one after another (two at once would measure each other) and renders each report. */
export async function runPeerBench(options: PeerBenchOptions): Promise<PeerBenchOutcome[]> {
  const designs = selectDesigns(options.designs);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rounds = options.rounds ?? (options.smoke ? SMOKE_ROUNDS : FULL_ROUNDS);
  const needsRedis = designs.some((design) => design.needsRedis);
  const runAll = async (redisUrl: string | undefined) => {
    const outcomes: PeerBenchOutcome[] = [];
    for (const design of designs) {
      const designLog = (line: string) => log(`[peers ${design.name}] ${line}`);
      if (design.needsRedis && redisUrl === undefined) {
        const skipped = 'no Redis: install redis-server or set REDIS_URL';
        log(`[peers ${design.name}] skipped: ${skipped}`);
        outcomes.push({ design: design.name, skipped });
        continue;
      }
      const context: PeerContext = {
        smoke: options.smoke,
        rounds,
        log: designLog,
        ...(redisUrl === undefined ? {} : { redisUrl }),
      };
      const started = performance.now();
      const result = await design.run(context);
      designLog(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const markdown = renderPeerReport(design, result, { smoke: options.smoke, rounds });
      const outcome: PeerBenchOutcome = { design: design.name, markdown };
      if (options.write) outcome.path = await writePeerReport(design.name, markdown);
      outcomes.push(outcome);
    }
    return outcomes;
  };
  if (!needsRedis) return runAll(undefined);
  return withBenchRedis(log, (redis) => runAll(redis?.url));
}

export function selectDesigns(names: readonly string[]): PeerDesign[] {
  const unknown = names.filter((name) => !PEER_DESIGNS.some((design) => design.name === name));
  if (unknown.length > 0) {
    const known = PEER_DESIGNS.map((design) => design.name).join(', ');
    throw new Error(`no peer benchmark for ${unknown.join(', ')} (known: ${known})`);
  }
  return names.length === 0
    ? [...PEER_DESIGNS]
    : PEER_DESIGNS.filter((design) => names.includes(design.name));
}
