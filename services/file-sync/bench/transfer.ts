import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createLogger, loadConfig, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { tempDir } from '@sysdesign/testkit';
import Fastify from 'fastify';
import { SyncApi } from '../src/client/api.js';
import { SyncEngine } from '../src/client/engine.js';
import { SyncState } from '../src/client/state.js';
import { watchAndSync } from '../src/client/watch.js';
import { configSchema } from '../src/config.js';
import { sha256Hex } from '../src/domain/blocks.js';
import { type ChunkingOptions, chunk } from '../src/domain/chunker.js';
import { buildService } from '../src/service.js';
import { BENCH_AUTH_SECRET } from './target.js';

/**
 * Transfer numbers the request-rate harness cannot give: upload and download MB/s of a large
 * file against a raw disk copy and a bare Fastify app streaming the same bytes to and from disk,
 * bytes re-sent after a one-byte insertion (fixed blocks vs FastCDC), the dedupe ratio of a set
 * of revisions, and save-to-appearance latency between two sync clients. Everything runs in this
 * process, one thing at a time, median of the rounds.
 */

const MIB = 1024 * 1024;

export function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

/** Pseudo-random bytes with some text-like redundancy (gzip gets about 2x), from a seed. */
export function benchBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = 97 + ((state >>> 0) % 16);
  }
  return bytes;
}

async function startService(env: Record<string, string>): Promise<{ app: ServiceApp; url: string }> {
  const dir = await tempDir('file-sync-transfer');
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: dir,
    BLOB_DIR: dir,
    AUTH_SECRET: BENCH_AUTH_SECRET,
    GC_INTERVAL_SECONDS: '0',
    BODY_LIMIT_BYTES: String(1024 * MIB),
    ...env,
  });
  const app = await buildService(config, { logger: createLogger('warn') });
  return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

/** Bare Fastify: PUT streams the body to a file and fsyncs it; GET streams the file back. */
async function startBaseline(): Promise<{ close(): Promise<void>; url: string }> {
  const dir = await tempDir('file-sync-baseline');
  const app = Fastify({ logger: false, bodyLimit: 1024 * MIB });
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  app.put('/file', async (request) => {
    const file = join(dir, 'file');
    await pipeline(request.body as NodeJS.ReadableStream, createWriteStream(file));
    const handle = await open(file, 'r+');
    await handle.sync();
    await handle.close();
    return { ok: true };
  });
  app.get('/file', (_request, reply) =>
    reply.type('application/octet-stream').send(createReadStream(join(dir, 'file'))),
  );
  return { close: () => app.close(), url: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export interface TransferRow {
  name: string;
  mbPerSecond: number;
  ratio: number;
}

export async function transferThroughput(
  sizeMib: number,
  rounds: number,
  token: string,
): Promise<TransferRow[]> {
  const bytes = benchBytes(sizeMib * MIB, 7);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' };
  const service = await startService({});
  const baseline = await startBaseline();
  const diskDir = await tempDir('file-sync-disk');
  const samples: Record<string, number[]> = { disk: [], baseUp: [], up: [], baseDown: [], down: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      samples.disk!.push(
        await timed(async () => {
          await writeFile(join(diskDir, `copy-${round}`), bytes);
          const handle = await open(join(diskDir, `copy-${round}`), 'r+');
          await handle.sync();
          await handle.close();
        }),
      );
      samples.baseUp!.push(
        await timed(() =>
          fetch(`${baseline.url}/file`, { method: 'PUT', body: bytes, headers }).then((r) => r.arrayBuffer()),
        ),
      );
      // A new file per round: each upload stores every block anew (no dedupe help).
      const round_bytes = benchBytes(sizeMib * MIB, 100 + round);
      samples.up!.push(
        await timed(async () => {
          const response = await fetch(`${service.url}/v1/content?path=big-${round}.bin`, {
            method: 'PUT',
            body: round_bytes,
            headers,
          });
          if (!response.ok) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
        }),
      );
      samples.baseDown!.push(await timed(() => fetch(`${baseline.url}/file`).then((r) => r.arrayBuffer())));
      samples.down!.push(
        await timed(async () => {
          const response = await fetch(`${service.url}/v1/content?path=big-${round}.bin`, { headers });
          const got = Buffer.from(await response.arrayBuffer());
          if (!got.equals(round_bytes)) throw new Error('download differs from upload');
        }),
      );
    }
  } finally {
    await service.app.close();
    await baseline.close();
  }
  const mbps = (ms: number[]) => sizeMib / (median(ms) / 1000);
  return [
    { name: `raw disk copy (writeFile + fsync), ${sizeMib} MiB`, mbPerSecond: mbps(samples.disk!), ratio: 1 },
    {
      name: 'bare Fastify PUT to disk + fsync',
      mbPerSecond: mbps(samples.baseUp!),
      ratio: mbps(samples.baseUp!) / mbps(samples.disk!),
    },
    {
      name: 'file-sync PUT /v1/content (FastCDC 1 MiB, SHA-256, gzip, fsync per block, commit)',
      mbPerSecond: mbps(samples.up!),
      ratio: mbps(samples.up!) / mbps(samples.disk!),
    },
    { name: 'bare Fastify GET from disk', mbPerSecond: mbps(samples.baseDown!), ratio: 1 },
    {
      name: 'file-sync GET /v1/content (gunzip + SHA-256 check per block)',
      mbPerSecond: mbps(samples.down!),
      ratio: mbps(samples.down!) / mbps(samples.baseDown!),
    },
  ];
}

/** Bytes a client re-sends after inserting one byte in the middle of a file. */
export function deltaAfterInsertion(
  sizeMib: number,
): { name: string; blocks: number; bytes: number; changedBlocks: number; changedBytes: number }[] {
  const original = benchBytes(sizeMib * MIB, 11);
  const middle = original.length >> 1;
  const edited = Buffer.concat([original.subarray(0, middle), Buffer.from('!'), original.subarray(middle)]);
  const strategies: [string, ChunkingOptions][] = [
    ['fixed 4 MiB blocks', { strategy: 'fixed' }],
    ['FastCDC, 1 MiB average', { strategy: 'fastcdc' }],
  ];
  return strategies.map(([name, options]) => {
    const before = new Set(chunk(original, options).map(sha256Hex));
    const after = chunk(edited, options);
    const changed = after.filter((block) => !before.has(sha256Hex(block)));
    return {
      name,
      blocks: after.length,
      bytes: edited.length,
      changedBlocks: changed.length,
      changedBytes: changed.reduce((total, block) => total + block.byteLength, 0),
    };
  });
}

/** Logical bytes of `revisions` revisions of one file (each an edit of the last) over bytes at rest. */
export async function dedupeRatio(
  sizeMib: number,
  revisions: number,
  token: string,
): Promise<{ logical: number; stored: number }> {
  const service = await startService({});
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' };
  let content = benchBytes(sizeMib * MIB, 21);
  let parent: string | undefined;
  let logical = 0;
  try {
    for (let revision = 0; revision < revisions; revision++) {
      const at = Math.floor((((revision * 7919) % 97) / 97) * content.length);
      content = Buffer.concat([
        content.subarray(0, at),
        benchBytes(1024, 500 + revision),
        content.subarray(at),
      ]);
      const query = new URLSearchParams({ path: 'doc.bin', ...(parent ? { parent } : {}) });
      const response = await fetch(`${service.url}/v1/content?${query}`, {
        method: 'PUT',
        body: content,
        headers,
      });
      parent = ((await response.json()) as { revision: { id: string } }).revision.id;
      logical += content.length;
    }
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const stored = Number(
      /filesync_block_bytes_stored_total\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? Number.NaN,
    );
    return { logical, stored };
  } finally {
    await service.app.close();
  }
}

/** Milliseconds from a save on device A until device B has the file, over `saves` saves. */
export async function syncLatency(saves: number): Promise<{ p50: number; p99: number }> {
  const service = await startService({});
  const authority = new TokenAuthority({ secret: BENCH_AUTH_SECRET });
  const token = await authority.issue('latency', { ttlSeconds: 3600 });
  const stop = new AbortController();
  const sides = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const folder = await tempDir(`file-sync-latency-${name}`);
      const api = new SyncApi(service.url, token);
      const engine = new SyncEngine({
        folder,
        api,
        state: await SyncState.open(folder),
        device: name,
        chunking: { strategy: 'fastcdc' },
      });
      return { folder, loop: watchAndSync({ folder, api, engine, signal: stop.signal, debounceMs: 20 }) };
    }),
  );
  const latencies: number[] = [];
  try {
    for (let save = 0; save < saves; save++) {
      const text = `save ${save} ${'x'.repeat(save)}`;
      const started = performance.now();
      await writeFile(join(sides[0]!.folder, 'note.txt'), text);
      for (;;) {
        const seen = await readFile(join(sides[1]!.folder, 'note.txt'), 'utf8').catch(() => '');
        if (seen === text) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      latencies.push(performance.now() - started);
    }
  } finally {
    stop.abort();
    await Promise.all(sides.map((side) => side.loop));
    await service.app.close();
  }
  return { p50: median(latencies), p99: percentile(latencies, 0.99) };
}
