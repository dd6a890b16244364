import { z } from 'zod';

/**
 * Configuration comes from the environment only. Each service describes its variables as a zod
 * object schema whose defaults are the embedded mode, and `loadConfig` parses `process.env`
 * through it once at start. Bad configuration fails with one message naming every bad variable.
 */

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export function loadConfig<Schema extends z.ZodObject>(
  schema: Schema,
  env: Env = process.env,
): z.infer<Schema> {
  // An empty string means "unset" (compose files often write `VAR=`), so defaults apply.
  const present: Env = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = issue.path.join('.') || '(environment)';
    const name = issue.path[0];
    const got = typeof name === 'string' ? present[name] : undefined;
    if (got === undefined) return `${variable}: ${issue.message}`;
    const shown = shownValue(name as string, got, schema.shape[name as string]);
    return `${variable}: ${issue.message}${shown === undefined ? ' (value not shown: it is secret)' : ` (got ${shown})`}`;
  });
  throw new ConfigError(problems);
}

/** Names of variables whose values are secrets: their values never appear in an error. */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL/i;

/**
 * A schema may mark its variable secret whatever its name:
 * `API_SIGNER: z.string().min(32).meta({ secret: true })`.
 */
function markedSecret(field: unknown): boolean {
  const meta = (field as { meta?: () => Record<string, unknown> | undefined } | undefined)?.meta?.();
  return meta?.secret === true;
}

/**
 * How a bad value appears in the error, or undefined when it must not appear at all. Errors land in
 * logs and CI output, so a secret is never echoed, and a URL keeps its shape but loses its password
 * (found by hand: a URL bad enough to be refused may not parse, `postgres://u:pw@h:99999/x`).
 */
function shownValue(name: string, value: string, field: unknown): string | undefined {
  if (SECRET_NAME.test(name) || markedSecret(field)) return undefined;
  return JSON.stringify(withoutPasswords(value));
}

/**
 * Where a URL begins inside a list (`redis://a:pw@h1,redis://b:pw@h2`, or separated by spaces): a
 * scheme not preceded by a scheme character. A comma inside a password starts no new URL.
 */
const URL_START = /(?<![A-Za-z0-9+.-])(?=[A-Za-z][A-Za-z0-9+.-]*:\/\/)/;

/** Every URL in the value loses its password, so a list of shard URLs echoes none of them. */
function withoutPasswords(value: string): string {
  return value.split(URL_START).map(withoutPassword).join('');
}

/** `scheme://user:password@host...` as `scheme://user:***@host...`; a user alone may be a token, so it goes too. */
function withoutPassword(value: string): string {
  const schemeEnd = value.indexOf('://');
  if (schemeEnd === -1) return value;
  const authorityStart = schemeEnd + 3;
  const rest = value.slice(authorityStart);
  const authorityLength = rest.search(/[/?#]/);
  const authority = authorityLength === -1 ? rest : rest.slice(0, authorityLength);
  const at = authority.lastIndexOf('@');
  if (at === -1) return value;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  const hidden = colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`;
  return `${value.slice(0, authorityStart)}${hidden}${value.slice(authorityStart + at)}`;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A TCP port given as a string in the environment. */
export const portVar = (defaultPort: number) =>
  z.coerce.number().int().min(0).max(65_535).default(defaultPort);

/** A whole number with bounds, given as a string in the environment. */
export const intVar = (defaultValue: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(defaultValue);

/** A boolean written as true/false/1/0/yes/no. */
export const boolVar = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((value) => value === 'true' || value === '1' || value === 'yes')
    .default(defaultValue);

/** `' a, b,,c '` -> `['a', 'b', 'c']`: how every list in the environment is written. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** A comma-separated list of non-empty strings. */
export const listVar = () => z.string().transform(splitList).optional();

const urlVar = (protocols: string[]) =>
  z
    .string()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL with scheme ${protocols.join(' or ')}`,
    )
    .optional();

/**
 * The variables every service reads. A service spreads this into its own schema:
 * `z.object({ ...serviceVars({ name: 'id-generator', port: 3003 }), MY_VAR: ... })`.
 */
export function serviceVars(service: { name: string; port: number }) {
  return {
    PORT: portVar(service.port),
    HOST: z.string().min(1).default('0.0.0.0'),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    DATA_DIR: z.string().min(1).default(`./data/${service.name}`),
    BODY_LIMIT_BYTES: intVar(1_048_576, 1_024, 1_073_741_824),
    SHUTDOWN_TIMEOUT_MS: intVar(10_000, 100, 300_000),
  };
}

/** The values of `BUS`: which event bus carries events when `KAFKA_BROKERS` is not set. */
export const BUS_KINDS = ['in-process', 'redis'] as const;
export type BusKind = (typeof BUS_KINDS)[number];

/** Backend selection: absent means embedded. Services spread only the ones they use. */
export const backendVars = {
  DATABASE_URL: urlVar(['postgres:', 'postgresql:']),
  /** Where the embedded PGlite keeps its files; `memory` keeps nothing (tests). */
  PGLITE_DIR: z.string().min(1).default('./data/pglite'),
  REDIS_URL: urlVar(['redis:', 'rediss:']),
  KAFKA_BROKERS: listVar(),
  /** Without KAFKA_BROKERS: `redis` carries the event bus on Redis Streams at REDIS_URL (across processes). */
  BUS: z.enum(BUS_KINDS).optional(),
  CASSANDRA_CONTACT_POINTS: listVar(),
  BLOB_DIR: z.string().min(1).default('./data/blobs'),
};

export const authVars = {
  /** HS256 secret for bearer tokens and signed URLs; the embedded mode generates one. */
  AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
};

export type ServiceVars = z.infer<z.ZodObject<ReturnType<typeof serviceVars>>>;
