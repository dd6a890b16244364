import type { Redis } from 'ioredis';
import type { MessageView } from './domain/protocol.js';

/**
 * Rooms, as in Socket.IO's Redis adapter: a socket joins the rooms it cares about (`c:<channel>`,
 * `u:<user>` for its own membership changes, `p:<user>` for presence it subscribed to), and an
 * event published to a room reaches every socket in it on every instance. With Redis, an
 * instance subscribes to a room's pub/sub channel while at least one of its sockets is in the
 * room, so there are no sticky sessions and no instance receives rooms it has no one in.
 * Without Redis, rooms are local. Delivery is at most once: the per-channel sequence and the
 * store cover what a room loses (see domain/ordering.ts).
 */

export type RoomEvent =
  | { kind: 'message'; message: MessageView }
  | { kind: 'update'; message: MessageView }
  | { kind: 'typing'; channelId: string; userId: string }
  | { kind: 'read'; channelId: string; userId: string; seq: number }
  | { kind: 'presence'; userId: string; online: boolean; lastActiveMs: number | null }
  | { kind: 'membership'; channelId: string; userId: string; event: 'joined' | 'left' }
  /** Local only: the room may have missed events (the pub/sub link dropped); read the store. */
  | { kind: 'resync' };

export type RoomListener = (event: RoomEvent) => void;

export interface RoomMembership {
  /** Resolves once events published to the room reach the listener (the subscription is live). */
  ready: Promise<void>;
  leave(): void;
}

export interface Fanout {
  join(room: string, listener: RoomListener): RoomMembership;
  publish(room: string, event: RoomEvent): Promise<void>;
  close(): Promise<void>;
}

export const rooms = {
  channel: (channelId: string) => `c:${channelId}`,
  user: (userId: string) => `u:${userId}`,
  presence: (userId: string) => `p:${userId}`,
};

class LocalRooms {
  private readonly listeners = new Map<string, Set<RoomListener>>();

  /** Answers true when this listener is the room's first (the room just opened here). */
  add(room: string, listener: RoomListener): boolean {
    let set = this.listeners.get(room);
    const first = set === undefined;
    if (!set) {
      set = new Set();
      this.listeners.set(room, set);
    }
    set.add(listener);
    return first;
  }

  /** Answers true when the room has no listener left here. */
  remove(room: string, listener: RoomListener): boolean {
    const set = this.listeners.get(room);
    if (!set) return false;
    set.delete(listener);
    if (set.size > 0) return false;
    this.listeners.delete(room);
    return true;
  }

  emit(room: string, event: RoomEvent, onError: (error: unknown) => void): void {
    for (const listener of this.listeners.get(room) ?? []) {
      try {
        listener(event);
      } catch (error) {
        onError(error);
      }
    }
  }

  /** Tells every listener of every room here that events may have been missed. */
  resyncAll(onError: (error: unknown) => void): void {
    for (const listener of [...this.listeners.values()].flatMap((listeners) => [...listeners])) {
      try {
        listener({ kind: 'resync' });
      } catch (error) {
        onError(error);
      }
    }
  }
}

export class MemoryFanout implements Fanout {
  private readonly local = new LocalRooms();

  constructor(private readonly onError: (error: unknown) => void) {}

  join(room: string, listener: RoomListener): RoomMembership {
    this.local.add(room, listener);
    return { ready: Promise.resolve(), leave: () => this.local.remove(room, listener) };
  }

  async publish(room: string, event: RoomEvent): Promise<void> {
    this.local.emit(room, event, this.onError);
  }

  async close(): Promise<void> {}
}

export class RedisFanout implements Fanout {
  private readonly local = new LocalRooms();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly batch = new Set<string>();
  private batchDone: Promise<void> | undefined;

  /** Connects the subscriber connection before any room is joined (ioredis sends SUBSCRIBE only once ready). */
  static async open(redis: Redis, prefix: string, onError: (error: unknown) => void): Promise<RedisFanout> {
    const subscriber = redis.duplicate({ lazyConnect: true, enableAutoPipelining: false });
    subscriber.on('error', onError);
    await subscriber.connect();
    return new RedisFanout(redis, subscriber, prefix, onError);
  }

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly onError: (error: unknown) => void,
  ) {
    // ioredis resubscribes after a reconnect; what was published while the link was down is
    // lost. The first `ready` came before this constructor (`open` awaited it): any later one is
    // a reconnect.
    this.subscriber.on('ready', () => this.local.resyncAll(this.onError));
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const room = channel.toString('utf8').slice(this.prefix.length);
      let event: RoomEvent;
      try {
        event = JSON.parse(payload.toString('utf8')) as RoomEvent;
      } catch (error) {
        this.onError(error);
        return;
      }
      this.local.emit(room, event, this.onError);
    });
  }

  join(room: string, listener: RoomListener): RoomMembership {
    if (this.local.add(room, listener)) {
      const subscribed = this.subscribeSoon(room);
      this.pending.set(room, subscribed);
      subscribed.catch(this.onError).finally(() => {
        if (this.pending.get(room) === subscribed) this.pending.delete(room);
      });
    }
    // A later listener of a room whose SUBSCRIBE is still in flight waits for the same reply.
    const ready = (this.pending.get(room) ?? Promise.resolve()).catch(() => undefined);
    return {
      ready,
      leave: () => {
        if (this.local.remove(room, listener)) {
          this.subscriber.unsubscribe(this.prefix + room).catch(this.onError);
        }
      },
    };
  }

  /**
   * Rooms opened in the same turn of the event loop share one SUBSCRIBE (a socket opening on a
   * thousand channels, or a reconnect storm, is a few commands rather than one per room).
   */
  private subscribeSoon(room: string): Promise<void> {
    this.batch.add(this.prefix + room);
    this.batchDone ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const channels = [...this.batch];
        this.batch.clear();
        this.batchDone = undefined;
        this.subscriber.subscribe(...channels).then(() => resolve(), reject);
      });
    });
    return this.batchDone;
  }

  async publish(room: string, event: RoomEvent): Promise<void> {
    await this.redis.publish(this.prefix + room, JSON.stringify(event));
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
