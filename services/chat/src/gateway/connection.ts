import type { WebSocket } from 'ws';
import { viewOf } from '../chat.js';
import { decide } from '../domain/ordering.js';
import {
  type ChannelCursor,
  type ClientFrame,
  CloseCode,
  type MessageView,
  parseClientFrame,
  type ServerFrame,
} from '../domain/protocol.js';
import { TokenBucket } from '../domain/token-bucket.js';
import { type RoomEvent, type RoomMembership, rooms } from '../fanout.js';
import type { Gateway } from './gateway.js';

/** What one socket has been sent of one channel, and the queue that keeps its sends in order. */
interface ChannelState {
  sentSeq: number;
  /** Every send for the channel runs after the previous one: one queue per channel per socket. */
  chain: Promise<void>;
  room: RoomMembership;
}

/** Refused frames in a row (over the rate) before the socket is closed with 4003. */
const RATE_STRIKES_MAX = 20;

/**
 * One WebSocket of one user's device: its channels and cursors, its frame budget, its presence
 * subscriptions. Every client frame is parsed and answered here; nothing a client sends can
 * throw out of this class (an unexpected error becomes an error frame and a log line).
 */
export class Connection {
  private readonly channels = new Map<string, ChannelState>();
  private readonly presenceRooms = new Map<string, RoomMembership>();
  private userRoom: RoomMembership | undefined;
  private readonly bucket: TokenBucket;
  private rateStrikes = 0;
  private closed = false;
  lastHeardMs: number;
  private lastBeatMs = 0;
  private resyncPending = false;

  constructor(
    private readonly gateway: Gateway,
    private readonly socket: WebSocket,
    readonly userId: string,
    readonly deviceId: string,
    readonly id: string,
  ) {
    const nowMs = gateway.nowMs();
    this.bucket = new TokenBucket(gateway.options.framesPerSecond, nowMs);
    this.lastHeardMs = nowMs;
  }

  /**
   * Joins the user's rooms first, then reads where each channel ends: a message stored in
   * between is both counted in the last sequence and heard in the room, and the cursor drops the
   * second copy. Then says hello with each channel's last, acked and read sequences.
   */
  async open(): Promise<void> {
    this.userRoom = this.gateway.fanout.join(rooms.user(this.userId), (event) => this.onEvent(event));
    const memberships = await this.gateway.chat.channels.channelsOf(
      this.userId,
      this.gateway.options.channelsPerUserMax,
    );
    const ids = memberships.map((membership) => membership.channel.id);
    let startAt: (seqs: Map<string, number>) => void = () => undefined;
    let failStart: (error: unknown) => void = () => undefined;
    const started = new Promise<Map<string, number>>((resolve, reject) => {
      startAt = resolve;
      failStart = reject;
    });
    const states = ids.map((channelId) =>
      this.joinChannel(channelId, () => started.then((seqs) => seqs.get(channelId) ?? 0)),
    );
    try {
      await Promise.all([this.userRoom.ready, ...states.map((state) => state.room.ready)]);
      const [lastSeqs, cursors] = await Promise.all([
        this.gateway.chat.messages.lastSeqs(ids),
        this.gateway.chat.channels.deviceCursors(this.userId, this.deviceId),
      ]);
      startAt(lastSeqs);
      const hello: ChannelCursor[] = memberships.map((membership) => ({
        channelId: membership.channel.id,
        lastSeq: lastSeqs.get(membership.channel.id) ?? 0,
        ackedSeq: cursors.get(membership.channel.id) ?? 0,
        readSeq: membership.readSeq,
      }));
      await this.heartbeat(true);
      this.send({
        type: 'hello',
        userId: this.userId,
        deviceId: this.deviceId,
        connectionId: this.id,
        channels: hello,
      });
    } catch (error) {
      failStart(error);
      throw error;
    }
  }

  /**
   * A channel's room and state. Its queue starts with `start` (where the socket stands in the
   * channel), so a notice heard before then waits for it.
   */
  private joinChannel(channelId: string, start: (ready: Promise<void>) => Promise<number>): ChannelState {
    const room = this.gateway.fanout.join(rooms.channel(channelId), (event) => this.onEvent(event));
    const state: ChannelState = { sentSeq: 0, chain: Promise.resolve(), room };
    state.chain = start(room.ready).then((seq) => {
      state.sentSeq = seq;
    });
    state.chain.catch(() => this.close(CloseCode.internalError, 'could not read the channel'));
    this.channels.set(channelId, state);
    return state;
  }

  onFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.closed) return;
    const nowMs = this.gateway.nowMs();
    this.lastHeardMs = nowMs;
    if (!this.bucket.take(nowMs)) {
      this.rateStrikes += 1;
      if (this.rateStrikes > RATE_STRIKES_MAX) {
        this.close(CloseCode.rateLimited, 'frame rate exceeded');
        return;
      }
      this.refuse('CHAT_ERR_FRAME_RATE', 'too many frames: slow down', undefined, 1_000);
      return;
    }
    this.rateStrikes = 0;
    if (isBinary) {
      this.refuse('CHAT_ERR_BINARY_FRAME', 'frames are JSON text');
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.refuse(parsed.code, parsed.detail, parsed.ref);
      return;
    }
    void this.heartbeat(false);
    const frame = parsed.frame;
    this.handle(frame).catch((error: unknown) => {
      const problem = this.gateway.problemOf(error);
      const retryAfterMs = problem.extensions.retryAfterMs;
      this.refuse(
        problem.code,
        problem.detail ?? problem.title,
        frame.type === 'send' ? frame.clientMsgId : undefined,
        typeof retryAfterMs === 'number' ? retryAfterMs : undefined,
      );
    });
  }

  private async handle(frame: ClientFrame): Promise<void> {
    const chat = this.gateway.chat;
    switch (frame.type) {
      case 'send': {
        const { message, duplicate } = await chat.send(
          this.userId,
          frame.channelId,
          frame.clientMsgId,
          frame.body,
        );
        this.send({
          type: 'ack',
          clientMsgId: frame.clientMsgId,
          channelId: frame.channelId,
          seq: message.seq,
          id: message.id.toString(),
          duplicate,
        });
        return;
      }
      case 'ack': {
        const state = this.stateOf(frame.channelId);
        this.gateway.acks.record({
          userId: this.userId,
          deviceId: this.deviceId,
          channelId: frame.channelId,
          seq: Math.min(frame.seq, state.sentSeq),
        });
        return;
      }
      case 'resume':
        await this.resume(frame.channelId, frame.afterSeq);
        return;
      case 'typing':
        await chat.typing(this.userId, frame.channelId);
        return;
      case 'read':
        await chat.markRead(this.userId, frame.channelId, frame.seq);
        return;
      case 'edit':
        await chat.edit(this.userId, frame.channelId, frame.seq, frame.body);
        return;
      case 'delete':
        await chat.remove(this.userId, frame.channelId, frame.seq);
        return;
      case 'presence.subscribe':
        await this.subscribePresence(frame.userIds);
        return;
      case 'ping':
        this.send({ type: 'pong' });
        return;
    }
  }

  private stateOf(channelId: string): ChannelState {
    const state = this.channels.get(channelId);
    if (!state) throw this.gateway.channelNotFound(channelId);
    return state;
  }

  /** Resends everything after `afterSeq` (default: this device's last ack) in order, then `resumed`. */
  private async resume(channelId: string, afterSeq: number | undefined): Promise<void> {
    const state = this.stateOf(channelId);
    const from =
      afterSeq ??
      (await this.gateway.chat.channels.deviceCursors(this.userId, this.deviceId)).get(channelId) ??
      0;
    this.gateway.metrics.resumes.inc();
    await this.enqueue(channelId, state, async () => {
      state.sentSeq = from;
      await this.catchUp(channelId, state, Number.MAX_SAFE_INTEGER, 'resume');
      this.send({ type: 'resumed', channelId, throughSeq: state.sentSeq });
    });
  }

  /** Sends stored messages after `state.sentSeq` in pages, up to `throughSeq` or the end. */
  private async catchUp(
    channelId: string,
    state: ChannelState,
    throughSeq: number,
    path: 'resume' | 'gap',
  ): Promise<void> {
    const page = this.gateway.options.resumePage;
    while (!this.closed && state.sentSeq < throughSeq) {
      const messages = await this.gateway.chat.messages.range(channelId, {
        afterSeq: state.sentSeq,
        limit: page,
      });
      for (const message of messages) this.deliver(state, viewOf(message), path);
      if (messages.length < page) return;
    }
  }

  private deliver(state: ChannelState, message: MessageView, path: 'live' | 'resume' | 'gap'): void {
    if (message.seq <= state.sentSeq) return;
    state.sentSeq = message.seq;
    this.send({ type: 'deliver', message });
    this.gateway.metrics.delivered.inc({ path });
    if (path === 'live') {
      this.gateway.metrics.deliveryLatency.observe(
        Math.max(0, this.gateway.nowMs() - Date.parse(message.createdAt)) / 1_000,
      );
    }
  }

  /** Runs `work` after every earlier send of the channel; a failure is logged, never stops the queue. */
  private enqueue(channelId: string, state: ChannelState, work: () => Promise<void>): Promise<void> {
    const run = state.chain.then(work);
    state.chain = run.catch((error: unknown) => {
      this.gateway.log.warn({ err: error, channelId, connectionId: this.id }, 'channel delivery failed');
    });
    return run;
  }

  private onEvent(event: RoomEvent): void {
    if (this.closed) return;
    switch (event.kind) {
      case 'message':
        this.onMessage(event.message);
        return;
      case 'update': {
        const message = event.message;
        const state = this.channels.get(message.channelId);
        if (!state) return;
        // Queued: an update never overtakes the message it changes.
        void this.enqueue(message.channelId, state, async () => {
          if (message.seq <= state.sentSeq) this.send({ type: 'update', message });
        }).catch(() => undefined);
        return;
      }
      case 'typing':
        if (event.userId !== this.userId && this.channels.has(event.channelId)) {
          this.send({ type: 'typing', channelId: event.channelId, userId: event.userId });
        }
        return;
      case 'read':
        if (this.channels.has(event.channelId)) {
          this.send({ type: 'read', channelId: event.channelId, userId: event.userId, seq: event.seq });
        }
        return;
      case 'presence':
        this.send({
          type: 'presence',
          userId: event.userId,
          online: event.online,
          lastActiveAt: event.lastActiveMs === null ? null : new Date(event.lastActiveMs).toISOString(),
        });
        return;
      case 'membership':
        this.onMembership(event.channelId, event.event);
        return;
      case 'resync':
        this.resync();
        return;
    }
  }

  /** After a lost pub/sub link: send each channel's stored messages past what this socket has. */
  private resync(): void {
    // Heard once per room this socket is in, in one turn: one catch-up per channel is enough.
    if (this.resyncPending) return;
    this.resyncPending = true;
    setImmediate(() => {
      this.resyncPending = false;
      for (const [channelId, state] of this.channels) {
        void this.enqueue(channelId, state, async () => {
          this.gateway.metrics.gapFills.inc();
          await this.catchUp(channelId, state, Number.MAX_SAFE_INTEGER, 'gap');
        }).catch(() => undefined);
      }
    });
  }

  private onMessage(message: MessageView): void {
    const state = this.channels.get(message.channelId);
    if (!state) return;
    void this.enqueue(message.channelId, state, async () => {
      const decision = decide(state.sentSeq, message.seq);
      if (decision.kind === 'next') this.deliver(state, message, 'live');
      else if (decision.kind === 'gap') {
        this.gateway.metrics.gapFills.inc();
        await this.catchUp(message.channelId, state, decision.throughSeq, 'gap');
      }
    }).catch(() => undefined);
  }

  private onMembership(channelId: string, event: 'joined' | 'left'): void {
    if (event === 'left') {
      const state = this.channels.get(channelId);
      if (!state) return;
      state.room.leave();
      this.channels.delete(channelId);
      this.send({ type: 'channel', channelId, event });
      return;
    }
    if (this.channels.has(channelId)) return;
    // A new member starts live at the channel's current end; history is a resume (or a page) away.
    const state = this.joinChannel(channelId, (ready) =>
      ready.then(() => this.gateway.chat.messages.lastSeq(channelId)),
    );
    void this.enqueue(channelId, state, async () => this.send({ type: 'channel', channelId, event })).catch(
      () => undefined,
    );
  }

  private async subscribePresence(userIds: readonly string[]): Promise<void> {
    const max = this.gateway.options.presenceSubscriptionsMax;
    const wanted = [...new Set(userIds)];
    if (wanted.length > max) {
      this.refuse('CHAT_ERR_TOO_MANY_SUBSCRIPTIONS', `at most ${max} users per presence subscription`);
      return;
    }
    for (const [userId, room] of this.presenceRooms) {
      if (!wanted.includes(userId)) {
        room.leave();
        this.presenceRooms.delete(userId);
      }
    }
    const joined: Promise<void>[] = [];
    for (const userId of wanted) {
      if (this.presenceRooms.has(userId)) continue;
      const room = this.gateway.fanout.join(rooms.presence(userId), (event) => this.onEvent(event));
      this.presenceRooms.set(userId, room);
      joined.push(room.ready);
    }
    await Promise.all(joined);
    const statuses = await this.gateway.presence.status(wanted, this.gateway.nowMs());
    for (const [userId, status] of statuses) {
      this.send({
        type: 'presence',
        userId,
        online: status.online,
        lastActiveAt: status.lastActiveMs === null ? null : new Date(status.lastActiveMs).toISOString(),
      });
    }
  }

  /** Renews this session's presence at most every third of its TTL (every frame counts as a beat). */
  private async heartbeat(force: boolean): Promise<void> {
    const nowMs = this.gateway.nowMs();
    if (!force && nowMs - this.lastBeatMs < this.gateway.options.presenceTtlMs / 3) return;
    this.lastBeatMs = nowMs;
    try {
      await this.gateway.presence.heartbeat(this.userId, this.id, nowMs);
    } catch (error) {
      this.gateway.log.warn({ err: error }, 'presence heartbeat failed');
    }
  }

  private refuse(code: string, detail: string, ref?: string, retryAfterMs?: number): void {
    this.gateway.metrics.framesRejected.inc({ code });
    this.send({
      type: 'error',
      code,
      detail,
      ...(ref === undefined ? {} : { ref }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  /** Writes a frame, or drops the socket if it cannot keep up: unsent bytes are bounded. */
  send(frame: ServerFrame): void {
    if (this.closed) return;
    if (this.socket.bufferedAmount > this.gateway.options.socketBufferBytesMax) {
      this.close(CloseCode.slowConsumer, 'slow consumer');
      return;
    }
    this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.gateway.metrics.serverCloses.inc({ code: String(code) });
    this.socket.close(code, reason);
    // A peer that never answers the close handshake must not hold the socket open.
    setTimeout(() => this.socket.terminate(), 5_000).unref();
    this.release();
  }

  /** Leaves every room; the gateway ends the session once the socket is gone. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.userRoom?.leave();
    for (const state of this.channels.values()) state.room.leave();
    for (const room of this.presenceRooms.values()) room.leave();
    this.channels.clear();
    this.presenceRooms.clear();
  }
}
