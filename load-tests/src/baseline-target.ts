/**
 * The bare-Fastify baseline every service is measured beside, in the same run: no logging, no hooks, no
 * schemas. It answers every method, so a POST scenario's baseline parses the same JSON body.
 *
 * - `/baseline` → `{"ok":true}`, the floor for small responses.
 * - `/baseline/large` → a precomputed response shaped like `GET /v1/ids?count=1000` (about 22 KB of
 *   19-digit decimal strings), serialized on every request, the floor for large responses.
 */
import Fastify from 'fastify';
import type { BenchTarget } from './target.js';

export const BASELINE_SMALL_PATH = '/baseline';
export const BASELINE_LARGE_PATH = '/baseline/large';

const LARGE_ID_COUNT = 1000;
const BASELINE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** 1000 increasing 19-digit ids, the size and shape of real snowflake ids. */
function largeBody(): { strategy: string; ids: string[] } {
  const first = 7_250_000_000_000_000_000n;
  const ids: string[] = [];
  for (let index = 0; index < LARGE_ID_COUNT; index++) ids.push((first + BigInt(index) * 4_099n).toString());
  return { strategy: 'snowflake', ids };
}

export async function createBenchTarget(): Promise<BenchTarget> {
  const app = Fastify({ logger: false });
  const small = { ok: true };
  const large = largeBody();
  app.route({ method: BASELINE_METHODS, url: BASELINE_SMALL_PATH, handler: async () => small });
  app.route({ method: BASELINE_METHODS, url: BASELINE_LARGE_PATH, handler: async () => large });
  return { app };
}
