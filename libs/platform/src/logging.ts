import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { FastifyBaseLogger } from 'fastify';
import {
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Level,
  type Logger,
  type LoggerOptions,
  pino,
} from 'pino';

/**
 * Structured JSON logs with pino. Secrets never reach a log line: authorization headers,
 * cookies and any field named like a secret are redacted, and query parameters that carry
 * signatures or tokens are masked in logged URLs.
 */

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-cluster-secret"]',
  'headers.authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.authSecret',
  'AUTH_SECRET',
  'DATABASE_URL',
];

const SECRET_QUERY_PARAMETERS = /([?&](?:signature|token|sig|access_token)=)[^&]*/gi;

export function maskUrl(url: string): string {
  return url.replace(SECRET_QUERY_PARAMETERS, '$1[Redacted]');
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
    serializers: {
      // Also called for any object logged under `req`, so nothing here may assume a field exists.
      req(request: { method?: string; url?: string; hostname?: string; ip?: string; headers?: unknown }) {
        return {
          method: request.method,
          url: typeof request.url === 'string' ? maskUrl(request.url) : undefined,
          host: request.hostname,
          remoteAddress: request.ip,
        };
      },
    },
  };
}

/**
 * Log lines read by a person at a terminal: pino-pretty, when stdout is one and the package is
 * installed (it is a dev dependency, absent from production images). Undefined otherwise, and
 * the lines stay JSON for machines.
 */
export function prettyStreamFor(
  output: NodeJS.WritableStream & { isTTY?: boolean },
): DestinationStream | undefined {
  if (output.isTTY !== true) return undefined;
  let pretty: (options: Record<string, unknown>) => DestinationStream;
  try {
    pretty = createRequire(import.meta.url)('pino-pretty');
  } catch {
    return undefined;
  }
  // Written synchronously, so the last lines before process.exit are not lost.
  return pretty({
    destination: output,
    colorize: true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
}

/** The process's logger; each service logs through a child bound to its name. */
export function createLogger(level: string): Logger {
  const pretty = prettyStreamFor(process.stdout);
  return pretty === undefined ? pino(loggerOptions(level)) : pino(loggerOptions(level), pretty);
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids need to be unique, not secret, so a process draws 76 random bits once and counts
 * in the last 48, keeping the UUID shape: a fresh `randomUUID()` per request costs several times
 * more. Two processes share a prefix with odds of one in 2^76.
 */
const REQUEST_ID_PREFIX = randomUUID().slice(0, 24);
const REQUEST_COUNTER_LIMIT = 2 ** 48;
let requestCounter = 0;

function newRequestId(): string {
  requestCounter = (requestCounter + 1) % REQUEST_COUNTER_LIMIT;
  return REQUEST_ID_PREFIX + requestCounter.toString(16).padStart(12, '0');
}

/** Takes the caller's `x-request-id` when it is safe to log and echo, else makes one. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given;
  return newRequestId();
}

/**
 * A request's logger that makes its pino child on the first line written at an enabled level. Fastify
 * binds every request's id through a child logger; pino serialises and redacts a child's bindings when
 * it is made, about a microsecond, and at `warn` most requests never write a line. Lines that are
 * written carry the request id as before.
 */
class LazyChildLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  get msgPrefix(): string | undefined {
    return (this.made ?? this.parent).msgPrefix;
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  private write(level: Level, args: unknown[]): void {
    const logger = this.made ?? this.parent;
    if (!logger.isLevelEnabled(level)) return;
    (this.real()[level] as (...line: unknown[]) => void)(...args);
  }

  private real(): Logger {
    this.made ??= this.parent.child(this.bindings);
    return this.made;
  }
}

/**
 * Fastify's `childLoggerFactory` for a service: each request's logger is made lazily (see
 * `LazyChildLogger`); a route with its own level or serializers gets a real child at once.
 */
export function requestLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined)
    return logger.child(bindings, options);
  return new LazyChildLogger(logger as Logger, bindings) as unknown as FastifyBaseLogger;
}
