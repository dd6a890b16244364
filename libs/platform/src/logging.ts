import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/**
 * Structured JSON logs with pino. Secrets never reach a log line: authorization headers,
 * cookies and any field named like a secret are redacted, and query parameters that carry
 * signatures or tokens are masked in logged URLs.
 */

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
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

/** Takes the caller's `x-request-id` when it is safe to log and echo, else makes one. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given;
  return randomUUID();
}
