import { randomUUID } from 'node:crypto';
import type { ServiceLogger as Logger, Problem } from '@sysdesign/platform';
import type { WebSocket } from 'ws';
import type { Chat } from '../chat.js';
import { ChannelNotFoundError } from '../domain/errors.js';
import { CloseCode } from '../domain/protocol.js';
import { type Fanout, rooms } from '../fanout.js';
import type { ChatMetrics } from '../metrics.js';
import type { PresenceStore } from '../store/presence.js';
import type { AckBuffer } from './ack-buffer.js';
import { Connection } from './connection.js';

export interface GatewayOptions {
  framesPerSecond: number;
  socketBufferBytesMax: number;
  resumePage: number;
  idleTimeoutMs: number;
  presenceTtlMs: number;
  presenceGraceMs: number;
  presenceSubscriptionsMax: number;
  channelsPerUserMax: number;
  connectionsMax: number;
  connectionsPerUserMax: number;
}

export interface GatewayDeps {
  chat: Chat;
  fanout: Fanout;
  presence: PresenceStore;
  acks: AckBuffer;
  metrics: ChatMetrics;
  log: Logger;
  nowMs: () => number;
  problemOf: (error: unknown) => Problem;
}

/**
 * The instance's sockets. It admits a socket (within the instance and per-user bounds), opens
 * its Connection, closes idle ones, and announces presence: online when a user's first session
 * starts anywhere, offline only after the grace period with no session left anywhere, so a
 * reconnect (or a hop to another instance) is not seen as leaving.
 */
export class Gateway {
  private readonly connections = new Set<Connection>();
  private readonly perUser = new Map<string, number>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private readonly idleTimer: NodeJS.Timeout;
  private closing = false;
  readonly chat: Chat;
  readonly fanout: Fanout;
  readonly presence: PresenceStore;
  readonly acks: AckBuffer;
  readonly metrics: ChatMetrics;
  readonly log: Logger;
  readonly nowMs: () => number;
  readonly problemOf: (error: unknown) => Problem;

  constructor(
    readonly options: GatewayOptions,
    deps: GatewayDeps,
  ) {
    this.chat = deps.chat;
    this.fanout = deps.fanout;
    this.presence = deps.presence;
    this.acks = deps.acks;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.nowMs = deps.nowMs;
    this.problemOf = deps.problemOf;
    this.idleTimer = setInterval(() => this.closeIdle(), Math.min(5_000, options.idleTimeoutMs / 4));
    this.idleTimer.unref();
  }

  /** Why a new socket of `userId` would be refused, or undefined when it may open. */
  refusal(userId: string): string | undefined {
    if (this.connections.size >= this.options.connectionsMax)
      return 'this instance holds its maximum of sockets';
    if ((this.perUser.get(userId) ?? 0) >= this.options.connectionsPerUserMax)
      return `a user may hold at most ${this.options.connectionsPerUserMax} sockets`;
    return undefined;
  }

  get size(): number {
    return this.connections.size;
  }

  channelNotFound(channelId: string): ChannelNotFoundError {
    return new ChannelNotFoundError(channelId);
  }

  /** Takes an upgraded socket of an authenticated user. */
  accept(socket: WebSocket, userId: string, deviceId: string): void {
    const connection = new Connection(this, socket, userId, deviceId, randomUUID());
    this.connections.add(connection);
    this.perUser.set(userId, (this.perUser.get(userId) ?? 0) + 1);
    this.metrics.connections.set(this.connections.size);
    this.metrics.connectionsOpened.inc();
    socket.on('message', (data, isBinary) => connection.onFrame(data, isBinary));
    socket.on('error', (error) =>
      this.log.debug({ err: error, connectionId: connection.id }, 'socket error'),
    );
    socket.on('close', (code) => this.onClose(connection, code));
    const wasOnline = this.presence
      .status([userId], this.nowMs())
      .then((statuses) => statuses.get(userId)?.online ?? false)
      .catch(() => true);
    connection
      .open()
      .then(async () => {
        if (!(await wasOnline)) await this.announce(userId, true);
      })
      .catch((error: unknown) => {
        this.log.warn({ err: error, connectionId: connection.id }, 'opening a socket failed');
        connection.close(CloseCode.internalError, 'could not open the session');
      });
  }

  private onClose(connection: Connection, code: number): void {
    if (!this.connections.delete(connection)) return;
    connection.release();
    const left = (this.perUser.get(connection.userId) ?? 1) - 1;
    if (left === 0) this.perUser.delete(connection.userId);
    else this.perUser.set(connection.userId, left);
    this.metrics.connections.set(this.connections.size);
    this.metrics.closes.inc({ code: String(code) });
    // Shutting down: the sessions of this instance's sockets expire with their TTL (its clients
    // reconnect elsewhere within it), and the backends are closing.
    if (this.closing) return;
    const nowMs = this.nowMs();
    this.acks.flush().catch(() => undefined);
    this.presence
      .end(connection.userId, connection.id, nowMs)
      .then(() => this.scheduleOfflineCheck(connection.userId))
      .catch((error: unknown) => this.log.warn({ err: error }, 'ending a presence session failed'));
  }

  /** After the grace period, announce offline if no session of the user is alive on any instance. */
  private scheduleOfflineCheck(userId: string): void {
    const timer = setTimeout(() => {
      this.graceTimers.delete(timer);
      this.presence
        .status([userId], this.nowMs())
        .then(async (statuses) => {
          if (!statuses.get(userId)?.online) await this.announce(userId, false);
        })
        .catch((error: unknown) => this.log.warn({ err: error }, 'presence check failed'));
    }, this.options.presenceGraceMs);
    timer.unref();
    this.graceTimers.add(timer);
  }

  private async announce(userId: string, online: boolean): Promise<void> {
    const status = (await this.presence.status([userId], this.nowMs())).get(userId);
    this.metrics.presenceFanout.inc();
    await this.fanout.publish(rooms.presence(userId), {
      kind: 'presence',
      userId,
      online,
      lastActiveMs: status?.lastActiveMs ?? null,
    });
  }

  private closeIdle(): void {
    const cutoffMs = this.nowMs() - this.options.idleTimeoutMs;
    for (const connection of this.connections) {
      if (connection.lastHeardMs < cutoffMs) connection.close(CloseCode.idle, 'idle');
    }
  }

  /** Closes every socket with 1001 (clients reconnect, to another instance behind the balancer). */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.idleTimer);
    for (const timer of this.graceTimers) clearTimeout(timer);
    this.graceTimers.clear();
    for (const connection of this.connections) connection.close(CloseCode.goingAway, 'server shutting down');
    await this.acks.close();
  }
}
