import { Problem, type ServiceApp, validationProblem } from '@sysdesign/platform';
import {
  contextOf as contextOfVersions,
  decodeContext,
  EMPTY_CLOCK,
  encodeContext,
  InvalidContextError,
  InvalidOptionError,
  isQuorumError,
  QuorumErrorCode,
  QuorumNotMetError,
  type ReadResult,
  type VectorClock,
  type Version,
} from '@sysdesign/quorum';
import { z } from 'zod';
import { type Config, MAX_KEY_BYTES, type Replication } from '../config.js';
import { CONSISTENCY_LEVELS, type QuorumSizes, quorumFor } from '../domain/consistency.js';
import { errors } from '../errors.js';
import { type KvMetrics, OPERATIONS, type Operation, OUTCOMES, type Outcome } from '../metrics.js';
import type { KvNode } from '../node.js';

/**
 * The client API: `PUT/GET/DELETE /v1/kv/{key}`. Any node coordinates any key. Values are raw
 * bytes of any content type; versions travel in the opaque `X-Context` header (a vector clock):
 * send back the context of your last read with your write, and the write supersedes exactly what
 * you read. Concurrent writes over the same context both survive, and a read returns them as 300
 * Multiple Choices with every sibling, for the client to merge and write back with the context.
 */

const CONTEXT_HEADER = 'x-context';
const EMPTY_VALUE = new Uint8Array(0);
const KEY_DESCRIPTION = `The key, URL-encoded: any Unicode text of 1 to ${MAX_KEY_BYTES} bytes of UTF-8 (slashes allowed)`;

interface WellFormed {
  isWellFormed(): boolean;
}

function quorumQuery(replication: Replication) {
  const count = (what: string) =>
    z.coerce
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(replication.n, `must be at most N (${replication.n})`)
      .optional()
      .describe(what);
  // Strict: an unknown option (`?W=3`, `?quorum=all`) is refused rather than ignored, so a client
  // never believes it asked for more replicas than it did.
  return z.strictObject({
    w: count(`Replicas that must acknowledge a write (default ${replication.w})`),
    r: count(`Replicas that must answer a read (default ${replication.r})`),
    consistency: z
      .enum(CONSISTENCY_LEVELS, { error: `must be one of ${CONSISTENCY_LEVELS.join(', ')}` })
      .optional()
      .describe('one = 1, quorum = a majority of N, all = N, for both R and W; w and r win over it'),
  });
}

const keyParams = z.object({ '*': z.string().describe(KEY_DESCRIPTION) });

const contextHeaders = z.object({
  'x-context': z
    .string()
    .optional()
    .describe('The X-Context of an earlier read: this write supersedes what that read returned'),
});

const siblingsBody = z.object({
  key: z.string(),
  context: z.string().describe('Write with this X-Context to replace every sibling listed'),
  omitted: z
    .number()
    .int()
    .describe(
      'Siblings left out to keep the values within MAX_SIBLINGS_BYTES; the context does not cover them, ' +
        'so they stay siblings of a write made with it (read again to get them)',
    ),
  siblings: z.array(
    z.object({
      value: z.string().describe('The value bytes, base64'),
      version: z.string().describe('The write that made it: node#incarnation:counter'),
      writtenAt: z.string().describe("ISO 8601, the coordinating replica's clock"),
    }),
  ),
});

export interface KvRouteDeps {
  node: KvNode;
  metrics: KvMetrics;
  config: Config;
}

/** What the three key routes share. */
interface KvRouteContext {
  node: KvNode;
  replication: Replication;
  defaults: QuorumSizes;
  querystring: ReturnType<typeof quorumQuery>;
  outcomes: Record<Operation, OutcomeCounters>;
}

export async function registerKvRoutes(app: ServiceApp, deps: KvRouteDeps): Promise<void> {
  const { node, metrics, config } = deps;
  const { replication } = node.settings;
  const outcomes = outcomeCounters(metrics);
  const routes: KvRouteContext = {
    node,
    replication,
    defaults: { r: replication.r, w: replication.w },
    querystring: quorumQuery(replication),
    outcomes,
  };
  await app.register(async (instance) => {
    // The plugin scope keeps the app's zod type provider at runtime; its static type drops it.
    const scope = instance as unknown as ServiceApp;
    acceptRawValues(scope, config);
    countFailures(scope, config, metrics, outcomes);
    registerPutRoute(scope, routes, config);
    registerGetRoute(scope, routes, config);
    registerDeleteRoute(scope, routes);
    registerEmptyKeyRoutes(scope);
  });
}

/** Values are raw bytes of any type: one parser takes every body as a Buffer, JSON included. */
function acceptRawValues(scope: ServiceApp, config: Config): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: config.MAX_VALUE_BYTES },
    (_request, body, done) => done(null, body),
  );
}

/**
 * Counts each failed request by its outcome, once, where every failure of these routes passes.
 * This scope's error handler hands what it throws to the platform's, which maps the domain errors
 * (see problems.ts); only the value limit's 413 is named here, as it is this scope's body limit.
 */
function countFailures(
  scope: ServiceApp,
  config: Config,
  metrics: KvMetrics,
  outcomes: Record<Operation, OutcomeCounters>,
): void {
  const quorumFailures = Object.fromEntries(OPERATIONS.map((op) => [op, metrics.quorumFailures.labels(op)]));
  scope.setErrorHandler((error, request) => {
    const op = operationOf(request.method);
    if (op !== undefined) {
      const outcome = failureOutcomeOf(error);
      outcomes[op][outcome].inc();
      if (outcome === 'quorum_not_met') quorumFailures[op]!.inc();
    }
    if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      throw errors.KV_ERR_VALUE_TOO_LARGE(`values are at most ${config.MAX_VALUE_BYTES} bytes`, {
        maxBytes: config.MAX_VALUE_BYTES,
      });
    }
    throw error;
  });
}

/** The outcome label of a request that failed with this error. */
function failureOutcomeOf(error: unknown): Outcome {
  if (error instanceof QuorumNotMetError) return 'quorum_not_met';
  if (
    isQuorumError(error, QuorumErrorCode.TOO_MANY_SIBLINGS) ||
    isQuorumError(error, QuorumErrorCode.SIBLINGS_TOO_LARGE)
  ) {
    return 'too_many_siblings';
  }
  if (isQuorumError(error, QuorumErrorCode.INVALID_CONTEXT)) return 'invalid';
  if (error instanceof Problem) {
    if (error.code === 'KV_ERR_KEY_NOT_FOUND') return 'not_found';
    return error.status === 400 ? 'invalid' : 'error';
  }
  const { code, validation } = error as { code?: string; validation?: unknown };
  if (
    error instanceof InvalidOptionError ||
    validation !== undefined ||
    code === 'FST_ERR_CTP_BODY_TOO_LARGE'
  ) {
    return 'invalid';
  }
  return 'error';
}

function registerPutRoute(scope: ServiceApp, routes: KvRouteContext, config: Config): void {
  const { node, replication, defaults, outcomes } = routes;
  scope.put(
    '/v1/kv/*',
    {
      bodyLimit: config.MAX_VALUE_BYTES,
      schema: {
        summary: 'Write a value',
        description:
          'The body is the value (any bytes, any content type). With the X-Context of an earlier read the write ' +
          'replaces what that read returned; without one it is a blind write, a sibling of whatever exists. ' +
          'Answers once W replicas hold it, with the new X-Context.',
        params: keyParams,
        querystring: routes.querystring,
        headers: contextHeaders,
      },
    },
    async (request, reply) => {
      const key = keyOf(request.params['*']);
      const context = contextOf(request.headers[CONTEXT_HEADER]);
      const { w } = quorumFor(request.query, replication.n, defaults);
      const value = request.body instanceof Uint8Array ? request.body : EMPTY_VALUE;
      const result = await node.quorum.put(key, value, context ?? EMPTY_CLOCK, { w });
      outcomes.put.ok.inc();
      return reply.code(204).header(CONTEXT_HEADER, encodeContext(result.context)).send();
    },
  );
}

function registerGetRoute(scope: ServiceApp, routes: KvRouteContext, config: Config): void {
  const { node, replication, defaults, outcomes } = routes;
  scope.get(
    '/v1/kv/*',
    {
      schema: {
        summary: 'Read a value',
        description:
          '200 with the value bytes and its X-Context; 300 with every sibling (JSON) when writes were concurrent; ' +
          '404 when there is no live version. Answers once R replicas answered; stale replicas are repaired. ' +
          'A 300 lists siblings whose values total at most MAX_SIBLINGS_BYTES (base64 in JSON adds a third); ' +
          '`omitted` counts the rest, which its context does not cover.',
        params: keyParams,
        querystring: routes.querystring,
        response: { 300: siblingsBody },
      },
    },
    async (request, reply) => {
      const key = keyOf(request.params['*']);
      const { r } = quorumFor(request.query, replication.n, defaults);
      const result = await node.quorum.get(key, { r });
      const answer = readAnswer(result, outcomes.get, config.MAX_SIBLINGS_BYTES);
      if (answer.status === 300)
        return reply.code(300).header(CONTEXT_HEADER, answer.context).send(answer.body);
      // The response map types JSON answers only; the 200 is the raw value bytes.
      const bytesReply = reply as unknown as BytesReply;
      bytesReply
        .code(200)
        .header(CONTEXT_HEADER, answer.context)
        .type('application/octet-stream')
        .send(answer.body);
      return reply;
    },
  );
}

function registerDeleteRoute(scope: ServiceApp, routes: KvRouteContext): void {
  const { node, replication, defaults, outcomes } = routes;
  scope.delete(
    '/v1/kv/*',
    {
      schema: {
        summary: 'Delete a value',
        description:
          'Writes a tombstone over what the X-Context covers; without one, reads with R first and deletes what ' +
          'that read saw. Answers 204 once W replicas hold the tombstone.',
        params: keyParams,
        querystring: routes.querystring,
        headers: contextHeaders,
      },
    },
    async (request, reply) => {
      const key = keyOf(request.params['*']);
      const context = contextOf(request.headers[CONTEXT_HEADER]);
      const { r, w } = quorumFor(request.query, replication.n, defaults);
      const result = await node.quorum.delete(key, context, { r, w });
      outcomes.delete.ok.inc();
      return reply.code(204).header(CONTEXT_HEADER, encodeContext(result.context)).send();
    },
  );
}

/** `/v1/kv/` names no key: a 400 saying so, rather than the router's 404. */
function registerEmptyKeyRoutes(scope: ServiceApp): void {
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    scope.route({
      method,
      url: '/v1/kv',
      schema: { hide: true },
      handler: async () => {
        throw validationProblem([{ in: 'params', field: 'key', message: 'must not be empty' }]);
      },
    });
  }
}

type OutcomeCounters = Record<Outcome, { inc(): void }>;

function operationOf(method: string): Operation | undefined {
  if (method === 'PUT') return 'put';
  if (method === 'GET' || method === 'HEAD') return 'get';
  if (method === 'DELETE') return 'delete';
  return undefined;
}

/** One labelled child per (operation, outcome), made once: prom-client hashes labels on every inc() otherwise. */
function outcomeCounters(metrics: KvMetrics): Record<Operation, OutcomeCounters> {
  const byOperation = {} as Record<Operation, OutcomeCounters>;
  for (const op of OPERATIONS) {
    byOperation[op] = Object.fromEntries(
      OUTCOMES.map((outcome) => [outcome, metrics.requests.labels(op, outcome)]),
    ) as OutcomeCounters;
  }
  return byOperation;
}

interface BytesReply {
  code(status: number): BytesReply;
  header(name: string, value: string): BytesReply;
  type(contentType: string): BytesReply;
  send(payload: Buffer): unknown;
}

type ReadAnswer =
  | { status: 200; context: string; body: Buffer }
  | { status: 300; context: string; body: z.infer<typeof siblingsBody> };

/**
 * 200 with the one live value, or 300 with the siblings whose values fit in `maxBytes`; a 404
 * problem when nothing is live.
 */
function readAnswer(result: ReadResult, outcomes: OutcomeCounters, maxBytes: number): ReadAnswer {
  if (!result.found) {
    // The context of a tombstone lets a client write over the delete instead of beside it.
    const context = encodeContext(result.context);
    throw errors.KV_ERR_KEY_NOT_FOUND(
      `no live version of ${JSON.stringify(result.key)}`,
      {},
      result.versions.length > 0 ? { [CONTEXT_HEADER]: context } : {},
    );
  }
  if (result.values.length === 1) {
    outcomes.ok.inc();
    const value = result.values[0]!;
    const body = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { status: 200, context: encodeContext(result.context), body };
  }
  outcomes.siblings.inc();
  const { listed, omitted } = boundedSiblings(result.versions, maxBytes);
  // Tombstones stay covered: a write with this context supersedes the deletes it saw too.
  const covered = [...result.versions.filter((version) => version.value === null), ...listed];
  const context = encodeContext(omitted === 0 ? result.context : contextOfVersions(covered));
  const siblings = listed.map((version) => ({
    value: Buffer.from(version.value!).toString('base64'),
    version: `${version.dot.actor}:${version.dot.counter}`,
    writtenAt: new Date(version.dot.timeMs).toISOString(),
  }));
  return { status: 300, context, body: { key: result.key, context, omitted, siblings } };
}

/** The live versions in order while their values total at most `maxBytes` (the first always). */
function boundedSiblings(
  versions: readonly Version[],
  maxBytes: number,
): { listed: Version[]; omitted: number } {
  const listed: Version[] = [];
  let bytes = 0;
  let omitted = 0;
  for (const version of versions) {
    if (version.value === null) continue;
    if (listed.length > 0 && bytes + version.value.byteLength > maxBytes) {
      omitted++;
      continue;
    }
    listed.push(version);
    bytes += version.value.byteLength;
  }
  return { listed, omitted };
}

/** The URL-decoded key from the path, checked: non-empty, well-formed Unicode, at most 1 KiB of UTF-8. */
function keyOf(key: string): string {
  let message: string | undefined;
  if (key.length === 0) message = 'must not be empty';
  else if (!(key as unknown as WellFormed).isWellFormed())
    message = 'must be well-formed Unicode (no lone surrogates)';
  else if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    message = `must be at most ${MAX_KEY_BYTES} bytes of UTF-8, got ${Buffer.byteLength(key, 'utf8')}`;
  }
  if (message === undefined) return key;
  throw validationProblem([{ in: 'params', field: 'key', message }]);
}

/** The vector clock in X-Context, or undefined when absent or empty. */
function contextOf(header: string | string[] | undefined): VectorClock | undefined {
  if (header === undefined || header === '') return undefined;
  try {
    if (typeof header !== 'string') throw new InvalidContextError('must be sent once');
    return decodeContext(header);
  } catch (error) {
    if (!(error instanceof InvalidContextError)) throw error;
    throw validationProblem([{ in: 'headers', field: CONTEXT_HEADER, message: error.reason }]);
  }
}
