import { type Command, Redis, type RedisOptions } from 'ioredis';

/**
 * The Redis client every Redis-backed part uses, made from `REDIS_URL`. Code that needs Redis
 * defines its own narrow port (a `ScoreStore`, a limiter) with a Redis adapter and an in-memory
 * twin; this only makes the connection.
 *
 * Commands fail fast while Redis is down (one retry, a bounded offline queue) instead of queueing
 * without limit, so callers can fail open or closed and readiness reports the outage.
 */

export interface RedisConnectionOptions {
  url: string;
  /** Prepended to every key, including the KEYS of Lua scripts. */
  keyPrefix?: string;
  connectionName?: string;
  commandTimeoutMs?: number;
  maxRetriesPerRequest?: number;
  /**
   * Commands timed out in a row, with no reply between them, after which the connection is
   * replaced (see `StallGuardedRedis`). 0 never replaces it. Default 3.
   */
  replaceAfterTimeouts?: number;
  /** Told when a stalled connection is replaced: for a log line or a metric. */
  onStalledConnection?: (timeoutsInARow: number) => void;
}

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;
export const DEFAULT_REPLACE_AFTER_TIMEOUTS = 3;

/**
 * A Redis client that replaces a connection which stopped answering without closing.
 *
 * ioredis pairs replies with commands by their order on one connection, and a command that timed
 * out stays in that order. When a link stalls and does not close (a blackholed route, a frozen
 * middlebox, a peer that lost bytes), the connection stays "ready" while nothing answers, and if
 * bytes were lost on the way every later reply is paired with an older command: the client never
 * answers a live command again, until the kernel gives up on the socket minutes later. The fault
 * lab found exactly that in the rate limiter. So a run of timeouts with no reply between them
 * closes the connection and opens a new one.
 *
 * Commands of a replaced connection are never sent again on the next one: their callers have
 * timed out and moved on, and a replayed INCR or limiter decision would count twice. Autopipelined
 * commands are aborted with their pipeline when the connection closes, and
 * `autoResendUnfulfilledCommands` is off for any other. Timeouts of commands sent on a replaced
 * connection are not held against the new one.
 */
class StallGuardedRedis extends Redis {
  private timeoutsInARow = 0;
  /** Which connection a command was sent on: a replacement starts a new one. */
  private connectionNumber = 0;

  constructor(
    url: string,
    options: RedisOptions,
    private readonly replaceAfterTimeouts: number,
    private readonly onStalled: ((timeoutsInARow: number) => void) | undefined,
  ) {
    super(url, options);
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const sent = super.sendCommand(command, stream);
    if (this.replaceAfterTimeouts > 0) {
      const connection = this.connectionNumber;
      command.promise.then(
        () => this.answered(connection),
        (error: unknown) => this.failed(connection, error),
      );
    }
    return sent;
  }

  private answered(connection: number): void {
    if (connection === this.connectionNumber) this.timeoutsInARow = 0;
  }

  private failed(connection: number, error: unknown): void {
    if (connection !== this.connectionNumber) return;
    // An error reply (NOSCRIPT, WRONGTYPE...) is an answer: the connection works.
    if ((error as Error | undefined)?.name === 'ReplyError') {
      this.answered(connection);
      return;
    }
    if ((error as Error | undefined)?.message !== 'Command timed out') return;
    this.timeoutsInARow += 1;
    if (this.timeoutsInARow < this.replaceAfterTimeouts || this.status !== 'ready') return;
    const timeouts = this.timeoutsInARow;
    this.timeoutsInARow = 0;
    this.connectionNumber += 1;
    this.onStalled?.(timeouts);
    this.disconnect(true);
  }
}

export async function createRedis(options: RedisConnectionOptions): Promise<Redis> {
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    keyPrefix: options.keyPrefix ?? '',
    connectionName: options.connectionName ?? 'sysdesign',
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    enableAutoPipelining: true,
    autoResendUnfulfilledCommands: false,
    // Reconnect with capped backoff forever: Redis coming back should heal the service.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
  };
  const redis = new StallGuardedRedis(
    options.url,
    redisOptions,
    options.replaceAfterTimeouts ?? DEFAULT_REPLACE_AFTER_TIMEOUTS,
    options.onStalledConnection,
  );
  // Without a listener ioredis logs unhandled errors; the readiness check reports the outage.
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

export async function pingRedis(redis: Redis): Promise<void> {
  const answer = await redis.ping();
  if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
}
