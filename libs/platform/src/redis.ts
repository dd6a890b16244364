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
 * `autoResendUnfulfilledCommands` is off for any other.
 *
 * Only commands written to a ready connection are watched, each against the connection it was
 * written to: a command queued while Redis was down (a reset, a restart) times out for a reason
 * the reconnect already handles, and must not replace the fresh connection that follows.
 */
class StallGuardedRedis extends Redis {
  private timeoutsInARow = 0;
  /** Counts connections: a close ends one, so late timeouts of its commands are not held against the next. */
  private connectionNumber = 0;
  /** Replacement asked for, close not seen yet (a stalled link may hold the close back). */
  private replacing = false;
  /** The connection each command was written to while it was ready (undefined: not watched). */
  private readonly watched = new WeakMap<Command, number | undefined>();

  constructor(
    url: string,
    options: RedisOptions,
    private readonly replaceAfterTimeouts: number,
    private readonly onStalled: ((timeoutsInARow: number) => void) | undefined,
  ) {
    super(url, options);
    this.on('close', () => {
      this.connectionNumber += 1;
      this.timeoutsInARow = 0;
      this.replacing = false;
    });
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const sent = super.sendCommand(command, stream);
    if (this.replaceAfterTimeouts === 0) return sent;
    if (!this.watched.has(command)) {
      this.watched.set(command, undefined);
      command.promise.then(
        () => this.settled(command, undefined),
        (error: unknown) => this.settled(command, error),
      );
    }
    // A command queued while the link was down is watched only once it is written to a ready
    // connection; if its own timeout failed it before then, that says nothing of this connection.
    if (this.status === 'ready' && !this.replacing) this.watched.set(command, this.connectionNumber);
    return sent;
  }

  private settled(command: Command, error: unknown): void {
    const connection = this.watched.get(command);
    if (connection === undefined || connection !== this.connectionNumber) return;
    if (error === undefined) this.timeoutsInARow = 0;
    else this.failed(error);
  }

  private failed(error: unknown): void {
    if (this.replacing) return;
    // An error reply (NOSCRIPT, WRONGTYPE...) is an answer: the connection works.
    if ((error as Error | undefined)?.name === 'ReplyError') {
      this.timeoutsInARow = 0;
      return;
    }
    if ((error as Error | undefined)?.message !== 'Command timed out') return;
    this.timeoutsInARow += 1;
    if (this.timeoutsInARow < this.replaceAfterTimeouts) return;
    this.replacing = true;
    this.onStalled?.(this.timeoutsInARow);
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
