import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CompiledLayout, DEFAULT_ID_EPOCH_MS, openSql, SNOWFLAKE_LAYOUT } from '@sysdesign/platform';
import { freePort, freshSchemaName, tempDirSync } from '@sysdesign/testkit';
import { type History, NodeProcess } from '@sysdesign/testkit/faults';
import { mintFunction } from './unique-ids.js';

/**
 * The id-generator as real processes for the fault suite: a node's clock is skewed through
 * SYSDESIGN_CLOCK_OFFSET_MS, its worker lease lives in Postgres (a fresh database per test, since
 * a standalone node always works in the service's own schema) or in its own PGlite, and clients
 * record every request for ids in a History.
 */

const SERVICE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const snowflake = new CompiledLayout(SNOWFLAKE_LAYOUT);

export interface IdNode {
  name: string;
  base: string;
  /** Its data (PGlite): removed at the end of the test, or earlier with `removeData`. */
  dir: string;
  /** The environment it was started with, so that `respawn` keeps its port and data. */
  env: Record<string, string>;
  process: NodeProcess;
}

/** A node on a free port; embedded PGlite in its own directory unless `env` sets DATABASE_URL. */
export async function createIdNode(name: string, env: Record<string, string>): Promise<IdNode> {
  const port = await freePort();
  const dir = tempDirSync(`id-generator-faults-${name}-`);
  const base = `http://127.0.0.1:${port}`;
  const nodeEnv = {
    DATABASE_URL: '',
    REDIS_URL: '',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    PGLITE_DIR: `${dir}/pglite`,
    ...env,
  };
  return { name, base, dir, env: nodeEnv, process: processFor(base, nodeEnv) };
}

/** Removes a stopped node's data now: a long run in rounds does not keep every round's PGlite. */
export async function removeData(node: IdNode): Promise<void> {
  if (node.process.running) throw new Error(`${node.name} is still running`);
  await rm(node.dir, { recursive: true, force: true });
}

/** The same node (port, data) as a new process with `env` added: a restart with new settings. */
export function respawn(node: IdNode, env: Record<string, string>): IdNode {
  const nodeEnv = { ...node.env, ...env };
  return { ...node, env: nodeEnv, process: processFor(node.base, nodeEnv) };
}

function processFor(base: string, env: Record<string, string>): NodeProcess {
  return new NodeProcess({
    script: 'src/main.ts',
    cwd: SERVICE_ROOT,
    readyUrl: `${base}/readyz`,
    startTimeoutMs: 45_000,
    env,
  });
}

export interface MintOutcome {
  status: number;
  ids: string[];
  code?: string | undefined;
  retryAfter?: string | undefined;
}

/**
 * One request for `count` snowflake ids, recorded in `history` as a `mint` by `client`: `ok` with
 * the ids, `fail` with the problem's code and Retry-After on a 503 (nothing issued), `unknown` on
 * a timeout or a reset connection.
 */
export async function mint(
  history: History,
  client: string,
  node: IdNode,
  count: number,
  timeoutMs: number,
): Promise<MintOutcome | undefined> {
  history.invoke(client, { f: mintFunction, node: node.name, value: count });
  let response: Response;
  let body: { ids?: string[]; code?: string };
  try {
    response = await fetch(`${node.base}/v1/ids?strategy=snowflake&count=${count}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    body = (await response.json()) as typeof body;
  } catch {
    history.unknown(client);
    return undefined;
  }
  if (response.status === 200 && body.ids) {
    history.ok(client, body.ids);
    return { status: 200, ids: body.ids };
  }
  const outcome = {
    status: response.status,
    ids: [],
    code: body.code,
    retryAfter: response.headers.get('retry-after') ?? undefined,
  };
  history.fail(client, { status: outcome.status, code: outcome.code, retryAfter: outcome.retryAfter });
  return outcome;
}

/** The worker id stamped into a snowflake id. */
export function workerIdOf(id: string): number {
  return snowflake.decode(BigInt(id)).workerId;
}

/** The time, in ms since 1970, stamped into a snowflake id. */
export function timeOf(id: string): number {
  return DEFAULT_ID_EPOCH_MS + snowflake.decode(BigInt(id)).time;
}

/** A fresh database on the server at `adminUrl`; `drop` removes it, closing what still uses it. */
export async function createDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = freshSchemaName('idgen_faults');
  const admin = await openSql({ schema: 'public', databaseUrl: adminUrl });
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.close();
      }
    },
  };
}
