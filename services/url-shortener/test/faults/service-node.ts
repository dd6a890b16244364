import { fileURLToPath } from 'node:url';
import { freePort, tempDirSync } from '@sysdesign/testkit';
import { NodeProcess } from '@sysdesign/testkit/faults';

/**
 * The URL shortener as one real process in the embedded mode (durable in-process bus under
 * DATA_DIR, PGlite under it too), so a kill -9 loses exactly what a crash loses, and a restart
 * reads the same bus and database back.
 */

const SERVICE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Longer than any pause the suites inject: only a kill makes a request fail. */
export const REQUEST_TIMEOUT_MS = 8_000;

export interface ServiceNode {
  process: NodeProcess;
  base: string;
}

export async function startServiceNode(env: Record<string, string>): Promise<ServiceNode> {
  const port = await freePort();
  const dir = tempDirSync('url-shortener-faults-');
  const base = `http://127.0.0.1:${port}`;
  const process = new NodeProcess({
    script: 'src/main.ts',
    cwd: SERVICE_ROOT,
    readyUrl: `${base}/readyz`,
    startTimeoutMs: 45_000,
    env: {
      // The embedded mode whatever the test run has: CI's DATABASE_URL would put the child in the
      // service's default schema of a shared server. Empty means unset.
      DATABASE_URL: '',
      REDIS_URL: '',
      KAFKA_BROKERS: '',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      PGLITE_DIR: `${dir}/pglite`,
      AUTH_SECRET: 'fault-suite-secret-of-at-least-32-bytes!',
      CREATE_RATE_LIMIT: '1000000',
      ...env,
    },
  });
  await process.start();
  return { process, base };
}

/** A counter or gauge without labels from the node's /metrics; 0 when it has no sample yet. */
export async function readMetric(node: ServiceNode, name: string): Promise<number> {
  const response = await fetch(`${node.base}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${name}{`) || entry.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/**
 * `count` links to distinct URLs (numbered from `firstIndex`: the service gives a URL it has seen
 * its existing code), created `concurrency` at a time; their codes in order.
 */
export async function createLinks(
  node: ServiceNode,
  count: number,
  { firstIndex = 0, concurrency = 16 }: { firstIndex?: number; concurrency?: number } = {},
): Promise<string[]> {
  const codes: string[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const response = await fetch(`${node.base}/v1/urls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `https://example.com/click/${firstIndex + index}` }),
      });
      if (response.status !== 201)
        throw new Error(`POST /v1/urls: ${response.status} ${await response.text()}`);
      codes[index] = ((await response.json()) as { code: string }).code;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return codes;
}

/** The counted total of each link, as one list with each code repeated by its count. */
export async function countedClicks(node: ServiceNode, codes: readonly string[], concurrency = 16) {
  const counted: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < codes.length) {
      const code = codes[next++] as string;
      const response = await fetch(`${node.base}/v1/urls/${code}`);
      if (response.status !== 200) throw new Error(`GET /v1/urls/${code}: ${response.status}`);
      const total = ((await response.json()) as { clicks: { total: number } }).clicks.total;
      for (let click = 0; click < total; click++) counted.push(code);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counted;
}
