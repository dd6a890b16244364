/**
 * `pnpm bench:peers [design...] [--smoke]`: each design beside the npm packages a user would install
 * instead, in the same run with rounds alternated; writes `load-tests/results/peers-<design>.md` and
 * prints it. `--smoke` (or BENCH_SMOKE=1): one short round per design to prove the harness still runs;
 * its numbers are not written. BENCH_ROUNDS overrides the rounds per measurement.
 */
import { runPeerBench, selectDesigns } from './peers/run.js';
import { numberFromEnv } from './stats.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const designs = args.filter((arg) => arg !== '--smoke');
const unknownFlag = designs.find((arg) => arg.startsWith('-'));
if (unknownFlag !== undefined) {
  process.stderr.write(`unknown option ${unknownFlag}; usage: bench:peers [design...] [--smoke]\n`);
  process.exit(2);
}
try {
  selectDesigns(designs);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
const rounds = process.env.BENCH_ROUNDS ? numberFromEnv('BENCH_ROUNDS', 3, { integer: true }) : undefined;
const outcomes = await runPeerBench({
  designs,
  smoke,
  write: !smoke,
  ...(rounds === undefined ? {} : { rounds }),
});
for (const outcome of outcomes) {
  if (outcome.markdown !== undefined) process.stdout.write(`${outcome.markdown}\n`);
  if (outcome.path !== undefined) process.stderr.write(`wrote ${outcome.path}\n`);
}
