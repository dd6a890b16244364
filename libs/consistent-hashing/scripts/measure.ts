/**
 * `pnpm --filter @sysdesign/consistent-hashing run measure`: every algorithm on one harness.
 *
 * For each algorithm (and virtual nodes per node where that applies): the spread of keys over the
 * nodes, the keys moved when the (n+1)th node joins against the ideal k/(n+1), and lookups per second.
 * Writes the markdown table into README.md (between the measure markers) and to
 * load-tests/results/consistent-hashing.md, and prints it.
 *
 * Environment: MEASURE_NODES (default 100), MEASURE_KEYS (default 1,000,000), MEASURE_SAMPLE_MS
 * (default 200, one lookup-rate sample; the median of 7 rounds is reported).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureBalance, measureJoin, measureLookupRate } from '../src/harness.js';
import { createPlacement, nextPrime, type Placement, type PlacementOptions } from '../src/index.js';

const DEFAULT_NODES = 100;
const DEFAULT_KEYS = 1_000_000;
const DEFAULT_SAMPLE_MS = 200;
const LOOKUP_KEYS = 100_000;
/** Lookup rates are sampled in rounds over all rows, so a noisy moment on a shared machine hits every row. */
const LOOKUP_ROUNDS = 7;
const VNODE_COUNTS = [1, 10, 100, 1000];
const EPSILON = 0.25;
const WEIGHTS = [1, 2, 3, 4, 5, 6, 7, 8];
const README_BEGIN = '<!-- measure:begin -->';
const README_END = '<!-- measure:end -->';

const readmeUrl = new URL('../README.md', import.meta.url);
const resultsUrl = new URL('../../../load-tests/results/consistent-hashing.md', import.meta.url);

interface Row {
  label: string;
  perNode: string;
  options: PlacementOptions;
}

interface Measured {
  row: Row;
  stdDevPercent: number;
  maxOverMean: number;
  shareStdDevPercent: number | undefined;
  movedPercent: number;
  movedOverIdeal: number;
  movedBetweenOldPercent: number;
  lookupsPerSecond: number;
}

function positiveIntegerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function rows(nodeCount: number): Row[] {
  const result: Row[] = [
    { label: 'modulo (hash mod n)', perNode: '-', options: { algorithm: 'modulo' } },
    { label: 'jump hash', perNode: '-', options: { algorithm: 'jump' } },
    { label: 'rendezvous (HRW)', perNode: '-', options: { algorithm: 'rendezvous' } },
  ];
  for (const vnodes of VNODE_COUNTS) {
    result.push({ label: 'ring', perNode: plural(vnodes, 'vnode'), options: { algorithm: 'ring', vnodes } });
  }
  for (const slots of VNODE_COUNTS) {
    // One more node must fit for the join, and the table must be prime.
    const tableSize = nextPrime(Math.max(slots * nodeCount, nodeCount + 2));
    result.push({
      label: 'maglev',
      perNode: `${plural(slots, 'slot')} (M=${tableSize.toLocaleString('en-US')})`,
      options: { algorithm: 'maglev', tableSize },
    });
  }
  for (const vnodes of VNODE_COUNTS) {
    result.push({
      label: `bounded loads (e=${EPSILON})`,
      perNode: plural(vnodes, 'vnode'),
      options: { algorithm: 'bounded-load', vnodes, epsilon: EPSILON },
    });
  }
  return result;
}

function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}

function nodeIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `node-${index}`);
}

function keysWithPrefix(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}:${index}`);
}

/** The exact spread of ring shares (ring and Maglev know theirs), as % of the mean share. */
function shareStdDevPercent(placement: Placement): number | undefined {
  if (placement.algorithm !== 'ring' && placement.algorithm !== 'maglev') return undefined;
  const shares = [...(placement as unknown as { ownership(): Map<string, number> }).ownership().values()];
  const mean = 1 / shares.length;
  const variance = shares.reduce((sum, share) => sum + (share - mean) ** 2, 0) / shares.length;
  return (Math.sqrt(variance) / mean) * 100;
}

/** This process's CPU time in ms: lookups per CPU second do not count time other processes took. */
function cpuClockMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Each row's median lookups per CPU second, rounds interleaved across rows. */
function measureLookupRates(
  rowList: Row[],
  nodes: string[],
  lookupKeys: string[],
  sampleMs: number,
): number[] {
  const placements = rowList.map((row) => createPlacement({ ...row.options, nodes }));
  const samples = rowList.map(() => [] as number[]);
  for (let round = 0; round < LOOKUP_ROUNDS; round++) {
    placements.forEach((placement, index) => {
      samples[index]!.push(
        measureLookupRate(placement, lookupKeys, { sampleMs, samples: 1, clock: cpuClockMs }),
      );
    });
  }
  return samples.map(median);
}

function measureRow(row: Row, nodes: string[], keys: string[], lookupsPerSecond: number): Measured {
  const balanced = createPlacement({ ...row.options, nodes });
  const balance = measureBalance(balanced, keys);
  const shareStdDev = shareStdDevPercent(balanced);
  const join = measureJoin(createPlacement({ ...row.options, nodes }), keys, 'node-new');
  return {
    row,
    stdDevPercent: balance.stdDevPercent,
    maxOverMean: balance.maxOverMean,
    shareStdDevPercent: shareStdDev,
    movedPercent: join.movedFraction * 100,
    movedOverIdeal: join.movedOverIdeal,
    movedBetweenOldPercent: (join.movedBetweenOldNodes / keys.length) * 100,
    lookupsPerSecond,
  };
}

/** For each weighted algorithm: the worst |key share ÷ weight share − 1| over nodes of weights 1..8. */
function measureWeights(keys: string[]): string[] {
  const options: [string, PlacementOptions][] = [
    ['ring, 100 vnodes per unit of weight', { algorithm: 'ring', vnodes: 100 }],
    ['ring, 1000 vnodes per unit of weight', { algorithm: 'ring', vnodes: 1000 }],
    ['rendezvous (HRW)', { algorithm: 'rendezvous' }],
    ['maglev, M=65,537', { algorithm: 'maglev' }],
    [
      `bounded loads (e=${EPSILON}), 100 vnodes`,
      { algorithm: 'bounded-load', vnodes: 100, epsilon: EPSILON },
    ],
  ];
  const totalWeight = WEIGHTS.reduce((sum, weight) => sum + weight, 0);
  const lines = [
    '| algorithm | worst share error | weight-1 node share | weight-8 node share |',
    '|---|---:|---:|---:|',
  ];
  for (const [label, option] of options) {
    const nodes = WEIGHTS.map((weight) => ({ id: `w${weight}`, weight }));
    const report = measureBalance(createPlacement({ ...option, nodes }), keys);
    let worst = 0;
    for (const weight of WEIGHTS) {
      const share = report.counts.get(`w${weight}`)! / keys.length;
      worst = Math.max(worst, Math.abs(share / (weight / totalWeight) - 1));
    }
    const shareOf = (weight: number) =>
      `${percent((report.counts.get(`w${weight}`)! / keys.length) * 100)} (ideal ${percent((weight / totalWeight) * 100)})`;
    lines.push(`| ${label} | ${percent(worst * 100)} | ${shareOf(1)} | ${shareOf(8)} |`);
  }
  return lines;
}

function percent(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)}%`;
}

function rate(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function renderTable(results: Measured[]): string[] {
  const lines = [
    '| algorithm | per node | load std dev | max / mean | ring share std dev | keys moved on join | moved / ideal | moved between old nodes | lookups/s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const result of results) {
    const cells = [
      result.row.label,
      result.row.perNode,
      percent(result.stdDevPercent),
      result.maxOverMean.toFixed(3),
      result.shareStdDevPercent === undefined ? '-' : percent(result.shareStdDevPercent),
      percent(result.movedPercent),
      result.movedOverIdeal.toFixed(2),
      percent(result.movedBetweenOldPercent),
      rate(result.lookupsPerSecond),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines;
}

function renderReport(
  results: Measured[],
  weightLines: string[],
  nodeCount: number,
  keyCount: number,
  sampleMs: number,
): string {
  const noiseFloor = Math.sqrt(nodeCount / keyCount) * 100;
  const idealPercent = 100 / (nodeCount + 1);
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return [
    `Measured ${new Date().toISOString()} on Node ${process.version}, ${cpu} (${availableParallelism()} cores), ` +
      `by \`pnpm --filter @sysdesign/consistent-hashing run measure\`: ${nodeCount} nodes, ` +
      `${keyCount.toLocaleString('en-US')} keys (\`key:0\`, \`key:1\`, ...), MurmurHash3 x86_128.`,
    '',
    ...renderTable(results),
    '',
    `- **load std dev**: standard deviation of keys per node as % of the mean (${rate(keyCount / nodeCount)} keys). ` +
      `Sampling alone gives about ${percent(noiseFloor)} at this many keys per node: the modulo row shows that floor.`,
    '- **ring share std dev**: the same spread computed exactly from the widths of the ranges each node owns ' +
      '(ring) or its table slots (Maglev), free of sampling noise: the figure the literature quotes ' +
      '(about 10% at 100 vnodes, 3.2% at 1000, i.e. 1/sqrt(vnodes)).',
    `- **keys moved on join**: keys whose node changed when node ${nodeCount + 1} joined; ideal ` +
      `k/(n+1) = ${percent(idealPercent)}. **moved between old nodes** should be 0: keys that moved but not to ` +
      'the newcomer (Maglev trades a little of this for balance; bounded loads cascade overflow; modulo moves everything). ' +
      'Bounded loads move nothing by themselves on a join: the figure is after `rebalance()`.',
    `- **lookups/s**: lookups per second of CPU time (this process's, so time other processes take on a shared ` +
      `machine does not count), median of ${LOOKUP_ROUNDS} samples of ${sampleMs} ms taken in rounds across all rows, ` +
      `cycling through ${rate(LOOKUP_KEYS)} other keys, one thread, hashing included. For bounded loads it is the ` +
      'placement decision for an unassigned key (a walk past full nodes).',
    '',
    `Weights (nodes of weight 1 to 8, ${keyCount.toLocaleString('en-US')} keys): how far each node's share of keys is ` +
      'from weight / total weight. Jump hash and modulo have no weights.',
    '',
    ...weightLines,
    '',
  ].join('\n');
}

async function writeAtomically(url: URL, text: string): Promise<void> {
  const path = fileURLToPath(url);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

async function updateReadme(report: string): Promise<void> {
  const readme = await readFile(readmeUrl, 'utf8');
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${README_BEGIN} ... ${README_END} section`);
  const updated = `${readme.slice(0, begin + README_BEGIN.length)}\n${report}${readme.slice(end)}`;
  await writeAtomically(readmeUrl, updated);
}

async function main(): Promise<void> {
  const nodeCount = positiveIntegerFromEnv('MEASURE_NODES', DEFAULT_NODES);
  const keyCount = positiveIntegerFromEnv('MEASURE_KEYS', DEFAULT_KEYS);
  const sampleMs = positiveIntegerFromEnv('MEASURE_SAMPLE_MS', DEFAULT_SAMPLE_MS);
  const nodes = nodeIds(nodeCount);
  const keys = keysWithPrefix(keyCount, 'key');
  const lookupKeys = keysWithPrefix(LOOKUP_KEYS, 'lookup');
  const rowList = rows(nodeCount);
  const rates = measureLookupRates(rowList, nodes, lookupKeys, sampleMs);
  process.stderr.write(`lookup rates: ${LOOKUP_ROUNDS} rounds over ${rowList.length} rows\n`);
  const results: Measured[] = [];
  rowList.forEach((row, index) => {
    const started = performance.now();
    results.push(measureRow(row, nodes, keys, rates[index]!));
    process.stderr.write(
      `${row.label} ${row.perNode}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });
  const report = renderReport(results, measureWeights(keys), nodeCount, keyCount, sampleMs);
  process.stdout.write(report);
  await writeAtomically(resultsUrl, `# consistent-hashing measurements\n\n${report}`);
  await updateReadme(report);
}

await main();
