import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { createRedis } from '../redis.js';
import { deadLetterHeaders, deliverWithRetry, InFlight, pause } from './delivery.js';
import {
  BusError,
  BusErrorCode,
  type BusHandler,
  type BusHeaders,
  type BusMessage,
  type BusObserver,
  notify,
  type RetryPolicy,
  type Subscription,
} from './port.js';
import type { StreamsParams } from './redis-streams.js';
import {
  entriesOf,
  fieldMap,
  fieldOf,
  isMissingGroup,
  messageOfEntry,
  type StreamEntry,
} from './redis-streams-entries.js';
import { type BusKeys, type BusScripts, ENTRY_FIELDS, GROUP_FULL } from './redis-streams-keys.js';
import { BlockingReader, type ReaderHost } from './redis-streams-reader.js';

/**
 * One subscription of the Redis Streams bus: a member of its group that owns some partitions.
 *
 * - Membership. Every `heartbeatIntervalMs` it refreshes its entry in the group's member set and
 *   reads the live members; partition p is the member's at index p mod count. For each partition
 *   it should own it takes or extends the partition's lease (a key expiring after
 *   `sessionTimeoutMs`); a partition it should no longer own is finished and its lease given back.
 *   A member that joins, leaves or gives a partition back says so on the group's Pub/Sub channel,
 *   and the others heartbeat at once instead of at their next beat: a rebalance takes a few round
 *   trips. A member that dies stops renewing: after the session timeout it drops out of the member
 *   set, its leases expire, and the others take its partitions.
 * - Taking a partition over. Entries the group delivered on it but nobody acknowledged (a dead
 *   member's, or read ahead by a member that gave the partition up) are reclaimed with XAUTOCLAIM
 *   and handled first, in id order, before any new entry: the lease's expiry is the idle time
 *   after which they are taken, and a slow member that still heartbeats keeps its messages.
 * - Reading. One blocking XREADGROUP on a dedicated connection (redis-streams-reader.ts) reads
 *   new entries of every live partition it owns into per-partition queues (at most `bufferMax`
 *   entries held); a loop per partition hands them to the handler one at a time and acknowledges
 *   each (XACK) once handled or dead-lettered.
 * - Bad entries. An entry without a JSON value (written by something else) or trimmed away
 *   before it was handled is acknowledged, logged and reported as `skipped`; it never stops the
 *   partition.
 * - Safety under pauses. A partition is handled only until the local deadline of its last lease
 *   renewal (measured from when the renewal was sent, one heartbeat short of the TTL), so a member
 *   frozen past its lease stops before reading on once it wakes. The message it was handling may
 *   then be handled twice, which at-least-once allows.
 */

/** Members per group: the bound the heartbeat script enforces. */
export const MEMBERS_PER_GROUP_MAX = 64;
/** Reclaim pages per takeover, bounding the work one partition's takeover can cost. */
const RECLAIM_ROUNDS_MAX = 10_000;
/** Consumers of dead members removed from a stream's group per takeover. */
const STALE_CONSUMERS_REMOVED_MAX = 100;
/** Pending entries one stray sweep looks at per partition. */
const STRAYS_SCANNED_MAX = 100;
/** How often `subscribe()` checks whether it holds its partitions yet. */
const JOIN_POLL_MS_MAX = 50;
/** Pause after a failed read before the next one. */
const READ_RETRY_MS = 200;

/** What a subscription needs from its bus. */
export interface StreamsContext {
  readonly params: StreamsParams;
  readonly redis: Redis;
  readonly keys: BusKeys;
  readonly scripts: BusScripts;
  deadLetter(topic: string, key: string, valueJson: string, headers: BusHeaders): Promise<void>;
  /** Calls `onChange` whenever a member of the group announces a change; resolves to stop listening. */
  listen(channel: string, onChange: () => void): Promise<() => Promise<void>>;
  /** Tells every member of the group listening on `channel` to heartbeat now. */
  announce(channel: string): void;
}

type Phase = 'recovering' | 'live' | 'stopping';

interface PartitionState {
  partition: number;
  stream: string;
  phase: Phase;
  queue: StreamEntry[];
  /** `performance.now()` past which the lease may have expired. */
  heldUntil: number;
  /** Give the lease back when the loop ends (a rebalance or close), rather than let it lapse. */
  release: boolean;
  /** Stopped to take over entries pending for another consumer: start again at once. */
  restart: boolean;
  wake: (() => void) | undefined;
  loop: Promise<void>;
}

type EntryOutcome = 'next' | 'stop';

export class RedisStreamsSubscription implements Subscription {
  /** The member id and the consumer name in Redis. */
  readonly member: string;
  private readonly partitions = new Map<number, PartitionState>();
  private readonly stopRetrying = new AbortController();
  private readonly abandon = new AbortController();
  private readonly inFlight = new InFlight();
  private blocking: Redis | undefined;
  private reader: BlockingReader<PartitionState> | undefined;
  private readerDone: Promise<void> = Promise.resolve();
  /** Entries read and queued but not yet handled. */
  private buffered = 0;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  /** A change was announced while a heartbeat ran: beat again right after it. */
  private beatAgain = false;
  private joined = false;
  /** Ends the join loop's pause early when a change is announced. */
  private wakeJoin: (() => void) | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private stopping = false;
  private closing: Promise<void> | undefined;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    readonly topic: string,
    readonly group: string,
    private readonly partitionCount: number,
    private readonly handler: BusHandler<unknown>,
    private readonly policy: RetryPolicy,
    private readonly observer: BusObserver | undefined,
    private readonly context: StreamsContext,
  ) {
    this.member = `${context.params.clientId}@${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  private get params(): StreamsParams {
    return this.context.params;
  }

  private get observers(): (BusObserver | undefined)[] {
    return [this.params.observer, this.observer];
  }

  /** Creates the group on every partition, joins it, and waits until it holds its share. */
  async start(fromBeginning: boolean): Promise<void> {
    await this.ensureGroups(fromBeginning ? '0' : '$');
    this.blocking = await createRedis({
      url: this.params.url,
      connectionName: `${this.params.clientId}:bus-read`,
      commandTimeoutMs: this.params.blockMs + this.params.requestTimeoutMs,
    });
    this.reader = new BlockingReader(
      this.blocking,
      this.context.redis,
      {
        group: this.group,
        consumer: this.member,
        readBatch: this.params.readBatch,
        blockMs: this.params.blockMs,
        logger: this.params.logger,
      },
      this.readerHost(),
    );
    this.readerDone = this.reader.run();
    const changes = this.context.keys.changes(this.topic, this.group);
    this.unlisten = await this.context.listen(changes, () => this.beatSoon());
    const deadline = performance.now() + this.params.joinTimeoutMs;
    const pollMs = Math.min(JOIN_POLL_MS_MAX, this.params.heartbeatIntervalMs);
    let announced = false;
    while (!(await this.beat())) {
      // Once in the member set, the others are told to rebalance now rather than at their next beat.
      if (!announced) this.context.announce(changes);
      announced = true;
      if (this.stopping) throw new BusError(BusErrorCode.closed, 'the subscription closed while it joined');
      if (performance.now() > deadline) {
        throw new BusError(
          BusErrorCode.unavailable,
          `joining group ${this.group} of ${this.topic} took longer than ${this.params.joinTimeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        this.wakeJoin = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeJoin = undefined;
    }
    this.joined = true;
    this.scheduleBeat(this.params.heartbeatIntervalMs);
  }

  /** XGROUP CREATE on every partition stream (creating the stream); an existing group stays as it is. */
  private async ensureGroups(startId: '0' | '$'): Promise<void> {
    const { redis, keys } = this.context;
    await Promise.all(
      Array.from({ length: this.partitionCount }, async (_, partition) => {
        try {
          await redis.xgroup('CREATE', keys.stream(this.topic, partition), this.group, startId, 'MKSTREAM');
        } catch (error) {
          if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
        }
      }),
    );
  }

  private scheduleBeat(delayMs: number): void {
    if (this.stopping) return;
    clearTimeout(this.beatTimer);
    this.beatTimer = setTimeout(() => this.runBeat(), delayMs);
  }

  private runBeat(): void {
    this.beating = this.beat()
      .then(() => this.sweepStrays())
      .catch((error) => {
        this.params.logger.warn({ err: error, topic: this.topic, group: this.group }, 'bus heartbeat failed');
      })
      .finally(() => {
        this.beating = undefined;
        const again = this.beatAgain;
        this.beatAgain = false;
        this.scheduleBeat(again ? 0 : this.params.heartbeatIntervalMs);
      });
  }

  /** A member joined, left or gave a partition back: heartbeat now. */
  private beatSoon(): void {
    if (this.stopping) return;
    if (!this.joined) {
      this.wakeJoin?.();
      return;
    }
    if (this.beating) {
      this.beatAgain = true;
      return;
    }
    this.scheduleBeat(0);
  }

  /**
   * Refreshes membership, gives up partitions no longer assigned here, and takes or extends the
   * leases of the rest. True when it holds every partition assigned to it.
   */
  private async beat(): Promise<boolean> {
    const { keys, scripts } = this.context;
    const { sessionTimeoutMs, heartbeatIntervalMs } = this.params;
    const sentAt = performance.now();
    const members = await scripts.busHeartbeat(
      keys.members(this.topic, this.group),
      this.member,
      sessionTimeoutMs,
      MEMBERS_PER_GROUP_MAX,
    );
    if (members === GROUP_FULL || typeof members === 'number') {
      throw new BusError(
        BusErrorCode.limitExceeded,
        `group ${this.group} of ${this.topic} already has ${MEMBERS_PER_GROUP_MAX} members`,
      );
    }
    if (this.stopping) return false;
    const assigned = new Set<number>();
    for (let partition = 0; partition < this.partitionCount; partition++)
      if (members[partition % members.length] === this.member) assigned.add(partition);
    for (const state of this.partitions.values())
      if (!assigned.has(state.partition)) this.stopPartition(state, true);
    // Partitions being finished keep their lease until they are given back.
    const wanted = new Set([...assigned, ...this.partitions.keys()]);
    const heldUntil = sentAt + sessionTimeoutMs - heartbeatIntervalMs;
    const held = await Promise.all(
      [...wanted].map(async (partition) => {
        const state = this.partitions.get(partition);
        if (state?.phase === 'stopping' && !state.release) return false;
        const owner = keys.owner(this.topic, this.group, partition);
        const ours = (await scripts.busHold(owner, this.member, sessionTimeoutMs)) === 1;
        if (!ours) {
          if (state) this.stopPartition(state, false);
          return false;
        }
        if (state) state.heldUntil = heldUntil;
        else if (!this.stopping) this.startPartition(partition, heldUntil);
        return state?.phase !== 'stopping';
      }),
    );
    return [...wanted].every((partition, index) => !assigned.has(partition) || held[index]);
  }

  /**
   * A member frozen past its lease (a pause, a blackholed link) may still have a blocking read
   * registered in Redis, which hands it the next entry after another member took the partition
   * over: that entry sits in the frozen member's pending list, where no takeover looks again.
   * Entries of another consumer idle for a whole session on a partition this member owns restart
   * the partition, whose recovery reclaims them (this member's own slow handlers do not count).
   */
  private async sweepStrays(): Promise<void> {
    const { redis } = this.context;
    const live = [...this.partitions.values()].filter((state) => state.phase === 'live');
    await Promise.all(
      live.map(async (state) => {
        const pending = (await redis.xpending(
          state.stream,
          this.group,
          'IDLE',
          this.params.sessionTimeoutMs,
          '-',
          '+',
          STRAYS_SCANNED_MAX,
        )) as unknown[];
        const stray = pending.some((entry) => Array.isArray(entry) && entry[1] !== this.member);
        if (!stray || state.phase !== 'live') return;
        this.params.logger.warn(
          { topic: this.topic, group: this.group, partition: state.partition },
          'entries pending for another consumer; taking them over',
        );
        state.restart = true;
        this.stopPartition(state, false);
      }),
    );
  }

  private startPartition(partition: number, heldUntil: number): void {
    const state: PartitionState = {
      partition,
      stream: this.context.keys.stream(this.topic, partition),
      phase: 'recovering',
      queue: [],
      heldUntil,
      release: true,
      restart: false,
      wake: undefined,
      loop: Promise.resolve(),
    };
    this.partitions.set(partition, state);
    state.loop = this.work(state);
  }

  /** Finishes the message in hand, then ends the partition's loop; `release` gives the lease back. */
  private stopPartition(state: PartitionState, release: boolean): void {
    if (state.phase === 'stopping') {
      state.release &&= release;
      return;
    }
    state.phase = 'stopping';
    state.release = release;
    state.wake?.();
    this.reader?.wake();
  }

  private holds(state: PartitionState): boolean {
    return state.phase !== 'stopping' && performance.now() < state.heldUntil;
  }

  /** One partition: reclaim and handle what is pending, then handle what the reader queues. */
  private async work(state: PartitionState): Promise<void> {
    const where = { topic: this.topic, group: this.group, partition: state.partition };
    try {
      // Recovery awaits Redis: the partition may have been stopped meanwhile, and stays stopped.
      if ((await this.recover(state)) && state.phase === 'recovering') {
        state.phase = 'live';
        this.reader?.wake();
        await this.handleQueue(state);
      }
    } catch (error) {
      state.release = false;
      if (!this.stopping)
        this.params.logger.warn({ err: error, ...where }, 'partition loop failed; it restarts');
      if (isMissingGroup(error)) await this.ensureGroups('0').catch(() => undefined);
    } finally {
      await this.leavePartition(state, where);
    }
  }

  private async handleQueue(state: PartitionState): Promise<void> {
    while (state.phase === 'live') {
      const entry = state.queue.shift();
      if (!entry) {
        await new Promise<void>((resolve) => {
          state.wake = resolve;
        });
        state.wake = undefined;
        continue;
      }
      this.buffered--;
      this.reader?.wakeIdle();
      if (!this.holds(state)) return;
      if ((await this.handleEntry(state, entry)) === 'stop') return;
    }
  }

  private async leavePartition(state: PartitionState, where: object): Promise<void> {
    state.phase = 'stopping';
    this.buffered -= state.queue.length;
    state.queue = [];
    // Entries a read still in flight returns for this partition stay pending for the next owner,
    // so the lease goes back only once no read covers the partition.
    await this.reader?.released(state.partition);
    if (state.release) {
      try {
        await this.context.scripts.busRelease(
          this.context.keys.owner(this.topic, this.group, state.partition),
          this.member,
        );
        this.context.announce(this.context.keys.changes(this.topic, this.group));
      } catch (error) {
        this.params.logger.warn(
          { err: error, ...where },
          'could not release a partition; its lease will lapse',
        );
      }
    }
    this.partitions.delete(state.partition);
    if (state.restart) this.beatSoon();
    this.reader?.wakeIdle();
  }

  /**
   * Takes over every entry of the partition the group delivered and nobody acknowledged, then
   * handles this member's pending entries in id order. False when the partition stopped meanwhile.
   */
  private async recover(state: PartitionState): Promise<boolean> {
    const { redis } = this.context;
    let cursor = '0-0';
    for (let round = 0; round < RECLAIM_ROUNDS_MAX; round++) {
      const reply = (await redis.xautoclaim(
        state.stream,
        this.group,
        this.member,
        0,
        cursor,
        'COUNT',
        this.params.readBatch,
        'JUSTID',
      )) as [string, string[], string[]?];
      const deleted = reply[2] ?? [];
      if (deleted.length > 0)
        this.reportSkipped(state, deleted.length, 'trimmed by retention before it was handled');
      cursor = reply[0];
      if (cursor === '0-0') break;
    }
    await this.removeStaleConsumers(state);
    let after = '0';
    while (this.holds(state)) {
      const entries = entriesOf(
        await redis.xreadgroup(
          'GROUP',
          this.group,
          this.member,
          'COUNT',
          this.params.readBatch,
          'STREAMS',
          state.stream,
          after,
        ),
      ).get(state.stream);
      if (!entries || entries.length === 0) return this.holds(state);
      for (const entry of entries) {
        if (!this.holds(state)) return false;
        if ((await this.handleEntry(state, entry)) === 'stop') return false;
        after = entry.id;
      }
    }
    return false;
  }

  /** Consumers of members long gone, with nothing pending after the takeover, are deleted. */
  private async removeStaleConsumers(state: PartitionState): Promise<void> {
    const { redis } = this.context;
    const consumers = (await redis.xinfo('CONSUMERS', state.stream, this.group)) as unknown[];
    let removed = 0;
    for (const consumer of consumers) {
      if (removed >= STALE_CONSUMERS_REMOVED_MAX) return;
      const info = fieldMap(consumer);
      const name = info.get('name');
      const pending = Number(info.get('pending'));
      const idleMs = Number(info.get('idle'));
      if (typeof name !== 'string' || name === this.member) continue;
      if (pending !== 0 || !(idleMs > this.params.sessionTimeoutMs)) continue;
      await redis.xgroup('DELCONSUMER', state.stream, this.group, name);
      removed++;
    }
  }

  private async handleEntry(state: PartitionState, entry: StreamEntry): Promise<EntryOutcome> {
    if (entry.fields === null) {
      await this.skip(state, entry, 'trimmed by retention before it was handled');
      return 'next';
    }
    const message = messageOfEntry(this.topic, state.partition, entry.id, entry.fields);
    if (message === undefined) {
      await this.skip(state, entry, 'malformed entry: no JSON value or headers');
      return 'next';
    }
    this.inFlight.enter();
    try {
      return await this.deliver(state, entry, message);
    } finally {
      this.inFlight.leave();
    }
  }

  private async deliver(
    state: PartitionState,
    entry: StreamEntry,
    message: Omit<BusMessage, 'attempt'>,
  ): Promise<EntryOutcome> {
    const { logger } = this.params;
    const where = { topic: this.topic, group: this.group, partition: state.partition };
    const outcome = await deliverWithRetry(this.handler, message, this.policy, {
      stopRetrying: this.stopRetrying.signal,
      abandon: this.abandon.signal,
      pauseBetweenAttempts: pause,
      onRetry: (attempt, error) =>
        notify(this.observers, { type: 'retried', ...where, attempt, error }, logger),
    });
    if (outcome.kind === 'abandoned') return 'stop';
    if (outcome.kind === 'handled') {
      await this.acknowledge(state, entry.id);
      notify(this.observers, { type: 'consumed', ...where, durationMs: outcome.durationMs }, logger);
      return 'next';
    }
    const headers = deadLetterHeaders(message.headers, { ...where, offset: message.offset, ...outcome });
    try {
      await this.context.deadLetter(
        this.topic,
        message.key,
        fieldOf(entry.fields!, ENTRY_FIELDS.value)!,
        headers,
      );
    } catch (error) {
      // Left pending: the partition restarts from it at the next heartbeat.
      logger.error({ err: error, ...where }, 'could not dead-letter a message; it stays pending');
      state.release = false;
      return 'stop';
    }
    await this.acknowledge(state, entry.id);
    logger.warn(
      { ...where, offset: message.offset, attempts: outcome.attempts, err: outcome.error },
      'message dead-lettered',
    );
    notify(
      this.observers,
      { type: 'dead-lettered', ...where, attempts: outcome.attempts, error: outcome.error },
      logger,
    );
    return 'next';
  }

  private async acknowledge(state: PartitionState, entryId: string): Promise<void> {
    await this.context.redis.xack(state.stream, this.group, entryId);
  }

  private async skip(state: PartitionState, entry: StreamEntry, reason: string): Promise<void> {
    await this.acknowledge(state, entry.id);
    this.reportSkipped(state, 1, reason, entry.id);
  }

  private reportSkipped(state: PartitionState, count: number, reason: string, entryId?: string): void {
    const where = { topic: this.topic, group: this.group, partition: state.partition };
    this.params.logger.warn({ ...where, count, entryId }, `bus entry skipped: ${reason}`);
    notify(this.observers, { type: 'skipped', ...where, count }, this.params.logger);
  }

  private async readFailed(error: unknown): Promise<void> {
    const where = { topic: this.topic, group: this.group };
    if (isMissingGroup(error)) {
      // The stream or group is gone (a flushed or restarted Redis): recreate it from the start.
      this.params.logger.warn({ ...where }, 'consumer group missing; recreating it');
      await this.ensureGroups('0').catch(() => undefined);
    } else {
      this.params.logger.warn({ err: error, ...where }, 'bus read failed; retrying');
    }
    await pause(READ_RETRY_MS, this.stopRetrying.signal);
  }

  /** How the reader sees this subscription's partitions. */
  private readerHost(): ReaderHost<PartitionState> {
    return {
      stopped: () => this.stopping,
      readable: () =>
        this.buffered >= this.params.bufferMax
          ? []
          : [...this.partitions.values()].filter((state) => state.phase === 'live'),
      reads: (state) => state.phase === 'live',
      queue: (state, entries) => {
        state.queue.push(...entries);
        this.buffered += entries.length;
        state.wake?.();
      },
      failed: (error) => this.readFailed(error),
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { logger, drainTimeoutMs } = this.params;
    this.stopping = true;
    clearTimeout(this.beatTimer);
    await this.beating;
    this.stopRetrying.abort();
    const states = [...this.partitions.values()];
    for (const state of states) this.stopPartition(state, true);
    this.reader?.wake();
    if (!(await this.inFlight.drained(drainTimeoutMs))) {
      logger.warn(
        { topic: this.topic, group: this.group, running: this.inFlight.size },
        'handlers still running after the drain timeout; their messages will be redelivered',
      );
      this.abandon.abort();
    }
    await Promise.all(states.map((state) => state.loop));
    await this.readerDone;
    this.blocking?.disconnect();
    await this.leaveGroup();
    await this.unlisten?.();
    this.resolveClosed();
  }

  /** Leaves the member set, and deletes this consumer from each stream where nothing is pending for it. */
  private async leaveGroup(): Promise<void> {
    const { redis, keys, scripts } = this.context;
    try {
      await scripts.busLeave(keys.members(this.topic, this.group), this.member);
      this.context.announce(keys.changes(this.topic, this.group));
      await Promise.all(
        Array.from({ length: this.partitionCount }, async (_, partition) => {
          const stream = keys.stream(this.topic, partition);
          const pending = (await redis.xpending(stream, this.group, '-', '+', 1, this.member)) as unknown[];
          if (pending.length === 0) await redis.xgroup('DELCONSUMER', stream, this.group, this.member);
        }),
      );
    } catch (error) {
      this.params.logger.warn(
        { err: error, topic: this.topic, group: this.group },
        'could not leave the group cleanly; the member expires',
      );
    }
  }
}
