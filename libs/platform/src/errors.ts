import { STATUS_CODES } from 'node:http';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';

/**
 * Errors as RFC 9457 problem details. Expected failures are thrown as `Problem`s with a stable
 * code; the error handler installed by `createService` turns them (and Fastify's own errors) into
 * `application/problem+json`. Anything else is a bug: a 500 whose body says nothing internal.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The `type` URI of a problem code: stable, and the same across services. */
export function problemType(code: string): string {
  return `urn:sysdesign:problem:${code.toLowerCase().replace(/_/g, '-')}`;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  [extension: string]: unknown;
}

export class Problem extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'Problem';
  }

  toBody(instance?: string): ProblemBody {
    return {
      ...this.extensions,
      type: problemType(this.code),
      title: this.title,
      status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(instance === undefined ? {} : { instance }),
      code: this.code,
    };
  }
}

export interface ProblemSpec {
  status: number;
  title: string;
}

export type ProblemFactory = (
  detail?: string,
  extensions?: Record<string, unknown>,
  headers?: Record<string, string>,
) => Problem;

/**
 * One table of a service's error codes, in the manner of Fastify's `FST_ERR_*`:
 * `const errors = defineProblems({ IDGEN_ERR_LEASE_LOST: { status: 503, title: '...' } })`,
 * then `throw errors.IDGEN_ERR_LEASE_LOST('detail')`.
 */
export function defineProblems<Codes extends string>(
  specs: Record<Codes, ProblemSpec>,
): Record<Codes, ProblemFactory> {
  const factories = {} as Record<Codes, ProblemFactory>;
  for (const code of Object.keys(specs) as Codes[]) {
    const spec = specs[code];
    factories[code] = (detail, extensions, headers) =>
      new Problem(code, spec.status, spec.title, detail, extensions, headers);
  }
  return factories;
}

/** The platform's own codes, used by the error handler for Fastify's errors. */
export const platformProblems = defineProblems({
  ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  ERR_MALFORMED_BODY: { status: 400, title: 'Malformed request body' },
  ERR_MALFORMED_URL: { status: 400, title: 'Malformed URL' },
  ERR_PATH_PARAMETER_TOO_LONG: { status: 414, title: 'Path parameter too long' },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ERR_SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  ERR_INTERNAL: { status: 500, title: 'Internal server error' },
});

export interface FieldError {
  /** Where the field is: body, query, params or headers. */
  in: string;
  /** The field's path, dotted (`items.0.name`); empty for the whole part. */
  field: string;
  message: string;
}

const validationLocation: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: { issue?: { path?: PropertyKey[]; message?: string } };
}

function fieldErrorsOf(error: FastifyError): FieldError[] {
  const where = validationLocation[error.validationContext ?? 'body'] ?? 'body';
  return ((error.validation ?? []) as ValidationIssue[]).map((issue) => {
    const path = issue.params?.issue?.path;
    const field = path
      ? path.map(String).join('.')
      : (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    return { in: where, field, message: issue.params?.issue?.message ?? issue.message ?? 'invalid' };
  });
}

/** Builds a 400 problem naming each bad field, for validation done outside the route schema. */
export function validationProblem(errors: FieldError[]): Problem {
  const names = errors.map((error) => (error.field ? `${error.in}.${error.field}` : error.in));
  return platformProblems.ERR_VALIDATION(
    `invalid ${[...new Set(names)].join(', ')}: ${errors[0]?.message ?? ''}`,
    {
      errors,
    },
  );
}

/**
 * A backend (database, Redis, broker) did not answer. Adapters throw it for connection failures,
 * never for errors in the caller's request, so it maps to 503 and the client may retry.
 */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
  constructor(
    readonly backend: string,
    options?: { cause?: unknown },
  ) {
    super(`${backend} is unavailable`, options);
  }
}

/** Maps anything thrown by a handler or by Fastify to a Problem. Unknown errors become 500s. */
export function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  if (error instanceof BackendUnavailableError) {
    return platformProblems.ERR_SERVICE_UNAVAILABLE(
      `${error.backend} is unavailable; retry shortly`,
      {},
      { 'retry-after': '1' },
    );
  }
  const fastifyError = error as FastifyError;
  if (fastifyError?.validation) return validationProblem(fieldErrorsOf(fastifyError));
  switch (fastifyError?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return platformProblems.ERR_BODY_TOO_LARGE(fastifyError.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return platformProblems.ERR_UNSUPPORTED_MEDIA_TYPE(fastifyError.message);
    case 'FST_ERR_BAD_URL':
      return platformProblems.ERR_MALFORMED_URL(fastifyError.message);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return platformProblems.ERR_PATH_PARAMETER_TOO_LONG(fastifyError.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return platformProblems.ERR_MALFORMED_BODY(fastifyError.message);
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Other client errors raised by Fastify or a plugin (e.g. invalid JSON): keep their status.
    return new Problem(
      fastifyError.code ?? `ERR_HTTP_${status}`,
      status,
      STATUS_CODES[status] ?? 'Client error',
      fastifyError.message,
    );
  }
  return platformProblems.ERR_INTERNAL('the server failed to handle this request; it has been logged');
}

/** The path without its query: a query may carry signatures or tokens. */
function pathOf(url: string): string {
  const queryStart = url.indexOf('?');
  return queryStart === -1 ? url : url.slice(0, queryStart);
}

export function sendProblem(reply: FastifyReply, problem: Problem, request: FastifyRequest): FastifyReply {
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problem.toBody(pathOf(request.url)));
}

/**
 * A service's own mapping of its domain errors to problems: undefined for errors it does not know,
 * which then go through `toProblem`. Routes throw domain errors and never catch them to map them.
 */
export type ErrorMapper = (error: unknown) => Problem | undefined;

/** The problem of `error`: the first mapper that knows it, else `toProblem`. */
export function problemOf(error: unknown, mappers: readonly ErrorMapper[]): Problem {
  if (error instanceof Problem) return error;
  for (const mapper of mappers) {
    const problem = mapper(error);
    if (problem !== undefined) return problem;
  }
  return toProblem(error);
}

function logFailure(request: FastifyRequest, error: unknown, problem: Problem): void {
  if (error instanceof BackendUnavailableError) {
    request.log.warn({ backend: error.backend, err: error.cause }, 'backend unavailable');
  } else if (problem.code === 'ERR_INTERNAL' && !(error instanceof Problem)) {
    request.log.error({ err: error }, 'unhandled error');
  } else if (problem.status >= 500) {
    request.log.warn({ code: problem.code, detail: problem.detail }, 'request failed');
  }
}

/** A hook the not-found handler runs once its answer has gone out. */
export type NotFoundResponseHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
) => void;

/**
 * Answers every error, and every unknown route, as a problem; `mappers` are asked first, in order.
 * `onNotFoundResponse` (the metrics' count of unmatched requests) runs after each not-found answer.
 */
export function installProblemHandlers(
  app: FastifyInstance,
  mappers: readonly ErrorMapper[] = [],
  onNotFoundResponse?: NotFoundResponseHook,
): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = problemOf(error, mappers);
    logFailure(request, error, problem);
    return sendProblem(reply, problem, request);
  });
  // Fastify runs every lifecycle hook given here on the not-found route, though its types name only
  // preValidation and preHandler.
  const options = (onNotFoundResponse === undefined ? {} : { onResponse: onNotFoundResponse }) as object;
  app.setNotFoundHandler(options, (request, reply) =>
    sendProblem(
      reply,
      platformProblems.ERR_NOT_FOUND(`no route for ${request.method} ${request.url}`),
      request,
    ),
  );
}
