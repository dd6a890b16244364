import { rm } from 'node:fs/promises';
import type { BenchTarget } from '@sysdesign/load-tests';
import { createLogger, loadConfig } from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * One kv-store node as the load harness runs it, in its own child process (forked by
 * `startTarget`), configured by the KV_BENCH_* variables bench/run.ts sets before forking. A node's
 * URL is its identity on the ring, so it must know its port before it is built: the node listens
 * on KV_BENCH_PORT whatever port the runner asks for. Request logs off (LOG_LEVEL=warn); every
 * other part (validation, metrics, gossip, hints, anti-entropy) is as in production.
 */
export async function createBenchTarget(): Promise<BenchTarget> {
  const port = Number(process.env.KV_BENCH_PORT);
  const dataDir = process.env.KV_BENCH_DATA_DIR;
  if (!Number.isInteger(port) || port <= 0 || dataDir === undefined) {
    throw new Error('set KV_BENCH_PORT and KV_BENCH_DATA_DIR (bench/run.ts does)');
  }
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'warn',
    PORT: String(port),
    DATA_DIR: dataDir,
    NODE_ID: process.env.KV_BENCH_NODE_ID,
    SEEDS: process.env.KV_BENCH_SEEDS,
    PEER_HOST: '127.0.0.1',
    PEER_PORT: process.env.KV_BENCH_PEER_PORT,
    CLUSTER_SECRET: process.env.KV_BENCH_CLUSTER_SECRET,
    FSYNC: process.env.KV_BENCH_FSYNC,
  });
  const app = await buildService(config, { logger: createLogger('warn') });
  return {
    app: {
      listen: () => app.listen({ host: '127.0.0.1', port }),
      close: () => app.close(),
      server: app.server,
    },
    close: () => rm(dataDir, { recursive: true, force: true }),
  };
}
