import { type HttpScenario, runHttpBench, writeReport } from '@sysdesign/load-tests';
import { TokenAuthority } from '@sysdesign/platform';
import { BENCH_AUTH_SECRET } from './target.js';
import { dedupeRatio, deltaAfterInsertion, syncLatency, transferThroughput } from './transfer.js';

/**
 * `pnpm --filter @sysdesign/file-sync bench`: transfer numbers (upload/download MB/s beside a raw
 * disk copy and bare Fastify, delta after a one-byte insertion, dedupe ratio, sync latency between
 * two clients), then metadata operations/s under load beside the bare-Fastify baseline.
 * BENCH_FILE_MIB (default 64) sizes the transfer file; BENCH_DELTA_MIB (default 100) the delta file.
 */

const fileMib = Number(process.env.BENCH_FILE_MIB ?? 64);
const deltaMib = Number(process.env.BENCH_DELTA_MIB ?? 100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const token = await new TokenAuthority({ secret: BENCH_AUTH_SECRET }).issue('bench', { ttlSeconds: 3600 });
const log = (line: string) => process.stderr.write(`${line}\n`);

log('transfer throughput...');
const transfer = await transferThroughput(fileMib, rounds, token);
log('delta after insertion...');
const delta = deltaAfterInsertion(deltaMib);
log('dedupe ratio...');
const dedupe = await dedupeRatio(16, 10, token);
log('sync latency...');
const latency = await syncLatency(20);

const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(2);
const transferTable = [
  '| transfer | MB/s (median) | ratio |',
  '|---|---:|---:|',
  ...transfer.map((row) => `| ${row.name} | ${row.mbPerSecond.toFixed(1)} | ${row.ratio.toFixed(2)} |`),
].join('\n');
const deltaTable = [
  `| one byte inserted in the middle of a ${deltaMib} MiB file | blocks | blocks re-sent | MiB re-sent |`,
  '|---|---:|---:|---:|',
  ...delta.map((row) => `| ${row.name} | ${row.blocks} | ${row.changedBlocks} | ${mib(row.changedBytes)} |`),
].join('\n');
const dedupeLine =
  `Dedupe: 10 revisions of a 16 MiB file, each a 1 KiB insertion into the last: ${mib(dedupe.logical)} MiB logical, ` +
  `${mib(dedupe.stored)} MiB at rest (gzip, FastCDC 1 MiB): ratio ${(dedupe.logical / dedupe.stored).toFixed(1)}x.`;
const latencyLine =
  `Sync latency, a save on device A until the file is on device B (two sysdesign-sync clients watching, long poll, one server): ` +
  `p50 ${latency.p50.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms over 20 saves.`;

const headers = { authorization: `Bearer ${token}` };
const metadata: HttpScenario = {
  name: 'GET /v1/files/metadata (auth + one indexed read, PGlite)',
  path: '/v1/files/metadata?path=bench.txt',
  headers,
  setupRequests: [
    {
      method: 'POST',
      path: '/v1/commit',
      headers,
      body: { path: 'bench.txt', parentRevision: null, blocks: [] },
    },
  ],
};
const missing: HttpScenario = {
  name: 'POST /v1/blocks/missing, 10 hashes',
  method: 'POST',
  path: '/v1/blocks/missing',
  headers,
  body: { hashes: Array.from({ length: 10 }, (_, index) => index.toString(16).padStart(64, '0')) },
};
const http = await runHttpBench({
  service: 'file-sync',
  target: { modulePath: new URL('./target.ts', import.meta.url) },
  scenarios: [metadata, missing],
  // The platform's floor is measured by the platform's own bench (#8); this run keeps to the design.
  platformFloor: false,
});

await writeReport({
  service: 'file-sync',
  http,
  notes: [
    `Transfers: one ${fileMib} MiB file of text-like pseudo-random bytes, ${rounds} rounds, service and baseline in this process over loopback; each service upload is a new file (no dedupe help).`,
    transferTable,
    deltaTable,
    dedupeLine,
    latencyLine,
    'Metadata: the service with PGlite in memory, LOG_LEVEL=warn, auth, validation and metrics on; baseline: bare Fastify answering `{"ok":true}`.',
  ],
});
