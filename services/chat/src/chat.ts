import type { EventBus } from '@sysdesign/platform';
import type { Limiter } from '@sysdesign/redis-limiters';
import { directChannelId, groupChannelId } from './domain/channels.js';
import {
  ChannelFullError,
  ChannelNotFoundError,
  ClientIdReusedError,
  DirectChannelMembersError,
  MessageDeletedError,
  MessageNotFoundError,
  NotAuthorError,
  TooManyChannelsError,
  UserRateLimitedError,
} from './domain/errors.js';
import type { MessageView } from './domain/protocol.js';
import { checkBody, checkText } from './domain/text.js';
import { type Fanout, rooms } from './fanout.js';
import type { Channel, ChannelStore, Membership } from './store/channel-store.js';
import type { MessageStore, StoredMessage } from './store/message-store.js';
import type { PresenceStore } from './store/presence.js';

/**
 * The chat itself, below the transports: the WebSocket gateway and the REST routes both call
 * it. It checks membership and limits, stores, and publishes to the rooms; it never talks to a
 * socket.
 */

export const NOTIFICATION_TOPIC = 'chat.notification';

export interface NotificationEvent {
  userId: string;
  channelId: string;
  seq: number;
  senderId: string;
  preview: string;
}

export interface ChatObserver {
  onMessage?(result: 'stored' | 'duplicate'): void;
  onNotification?(count: number): void;
}

export interface ChatDeps {
  channels: ChannelStore;
  messages: MessageStore;
  presence: PresenceStore;
  fanout: Fanout;
  bus: EventBus;
  limiter: Limiter;
  nextId: () => Promise<bigint>;
  nowMs: () => number;
  groupMembersMax: number;
  channelsPerUserMax: number;
  messageBytesMax: number;
  pushMembersMax: number;
  observer?: ChatObserver;
  onBackgroundError: (error: unknown, what: string) => void;
}

/** Characters of a message shown in a push notification. */
const PREVIEW_CHARS = 100;

export function viewOf(message: StoredMessage): MessageView {
  return {
    id: message.id.toString(),
    channelId: message.channelId,
    seq: message.seq,
    senderId: message.senderId,
    clientMsgId: message.clientMsgId,
    body: message.deletedAtMs === null ? message.body : null,
    createdAt: new Date(message.createdAtMs).toISOString(),
    editedAt: message.editedAtMs === null ? null : new Date(message.editedAtMs).toISOString(),
    deletedAt: message.deletedAtMs === null ? null : new Date(message.deletedAtMs).toISOString(),
  };
}

export class Chat {
  constructor(private readonly deps: ChatDeps) {}

  get messages(): MessageStore {
    return this.deps.messages;
  }

  get channels(): ChannelStore {
    return this.deps.channels;
  }

  async membership(channelId: string, userId: string): Promise<Membership> {
    const membership = await this.deps.channels.membership(channelId, userId);
    if (!membership) throw new ChannelNotFoundError(channelId);
    return membership;
  }

  /** The direct channel of two users, created on first use; both sides get the same one. */
  async openDirect(userId: string, otherUserId: string): Promise<{ channel: Channel; created: boolean }> {
    checkText(otherUserId, 'userId');
    if (otherUserId === userId) throw new DirectChannelMembersError();
    const id = directChannelId(userId, otherUserId);
    const existing = await this.deps.channels.get(id);
    if (existing) return { channel: existing, created: false };
    await this.checkChannelRoom(userId);
    await this.checkChannelRoom(otherUserId);
    const channel: Channel = {
      id,
      kind: 'direct',
      name: null,
      createdBy: userId,
      createdAtMs: this.deps.nowMs(),
    };
    const created = await this.deps.channels.create(channel, [userId, otherUserId]);
    if (created) {
      await this.announceMembership(id, userId, 'joined');
      await this.announceMembership(id, otherUserId, 'joined');
    }
    return { channel: created ? channel : ((await this.deps.channels.get(id)) ?? channel), created };
  }

  async createGroup(userId: string, name: string, memberIds: readonly string[]): Promise<Channel> {
    checkText(name, 'name');
    for (const member of memberIds) checkText(member, 'members');
    const members = [...new Set([userId, ...memberIds])];
    if (members.length > this.deps.groupMembersMax) throw new ChannelFullError(this.deps.groupMembersMax);
    for (const member of members) await this.checkChannelRoom(member);
    const channel: Channel = {
      id: groupChannelId(await this.deps.nextId()),
      kind: 'group',
      name,
      createdBy: userId,
      createdAtMs: this.deps.nowMs(),
    };
    await this.deps.channels.create(channel, members);
    for (const member of members) await this.announceMembership(channel.id, member, 'joined');
    return channel;
  }

  /** Adds `newMemberId` to a group the caller belongs to (a user joins by adding themselves). */
  async addMember(userId: string, channelId: string, newMemberId: string): Promise<boolean> {
    checkText(newMemberId, 'userId');
    const { channel } = await this.membership(channelId, userId);
    if (channel.kind === 'direct') throw new DirectChannelMembersError();
    await this.checkChannelRoom(newMemberId);
    const outcome = await this.deps.channels.addMember(
      channelId,
      newMemberId,
      this.deps.groupMembersMax,
      this.deps.nowMs(),
    );
    if (outcome === 'full') throw new ChannelFullError(this.deps.groupMembersMax);
    if (outcome === 'added') await this.announceMembership(channelId, newMemberId, 'joined');
    return outcome === 'added';
  }

  /** The caller leaves a group (direct channels cannot be left: they are the pair's history). */
  async leave(userId: string, channelId: string): Promise<void> {
    const { channel } = await this.membership(channelId, userId);
    if (channel.kind === 'direct') throw new DirectChannelMembersError();
    await this.deps.channels.removeMember(channelId, userId);
    await this.announceMembership(channelId, userId, 'left');
  }

  /**
   * Stores a message under the channel's next sequence and publishes it. A resend with the same
   * client message id answers the first one (and publishes it again, in case the first try died
   * between storing and publishing; sockets drop what they already have).
   */
  async send(
    userId: string,
    channelId: string,
    clientMsgId: string,
    body: string,
  ): Promise<{ message: StoredMessage; duplicate: boolean }> {
    checkBody(body, this.deps.messageBytesMax);
    await this.membership(channelId, userId);
    const { allowed, retryAfterMs } = await this.deps.limiter.limit(userId);
    if (!allowed) throw new UserRateLimitedError(retryAfterMs);
    const result = await this.deps.messages.append({
      id: await this.deps.nextId(),
      channelId,
      senderId: userId,
      clientMsgId,
      body,
      createdAtMs: this.deps.nowMs(),
    });
    if (result.duplicate && result.message.body !== body && result.message.deletedAtMs === null) {
      throw new ClientIdReusedError(clientMsgId);
    }
    this.deps.observer?.onMessage?.(result.duplicate ? 'duplicate' : 'stored');
    await this.deps.fanout.publish(rooms.channel(channelId), {
      kind: 'message',
      message: viewOf(result.message),
    });
    if (!result.duplicate) {
      this.notifyOffline(result.message).catch((error: unknown) =>
        this.deps.onBackgroundError(error, 'notifying offline members'),
      );
    }
    return result;
  }

  async edit(userId: string, channelId: string, seq: number, body: string): Promise<StoredMessage> {
    checkBody(body, this.deps.messageBytesMax);
    await this.authorOf(userId, channelId, seq);
    const edited = await this.deps.messages.edit(channelId, seq, body, this.deps.nowMs());
    if (!edited) throw new MessageNotFoundError(channelId, seq);
    if (edited.deletedAtMs !== null) throw new MessageDeletedError();
    await this.deps.fanout.publish(rooms.channel(channelId), { kind: 'update', message: viewOf(edited) });
    return edited;
  }

  async remove(userId: string, channelId: string, seq: number): Promise<StoredMessage> {
    await this.authorOf(userId, channelId, seq);
    const removed = await this.deps.messages.remove(channelId, seq, this.deps.nowMs());
    if (!removed) throw new MessageNotFoundError(channelId, seq);
    await this.deps.fanout.publish(rooms.channel(channelId), { kind: 'update', message: viewOf(removed) });
    return removed;
  }

  /** Moves the caller's read pointer; the channel hears of it when it is small enough for pushes. */
  async markRead(userId: string, channelId: string, seq: number): Promise<number> {
    await this.membership(channelId, userId);
    const lastSeq = await this.deps.messages.lastSeq(channelId);
    const readSeq = await this.deps.channels.markRead(channelId, userId, Math.min(seq, lastSeq));
    if (readSeq === undefined) throw new ChannelNotFoundError(channelId);
    if ((await this.deps.channels.memberCount(channelId)) <= this.deps.pushMembersMax) {
      await this.deps.fanout.publish(rooms.channel(channelId), {
        kind: 'read',
        channelId,
        userId,
        seq: readSeq,
      });
    }
    return readSeq;
  }

  /** Typing is ephemeral (never stored) and pushed only in channels small enough for it. */
  async typing(userId: string, channelId: string): Promise<void> {
    await this.membership(channelId, userId);
    if ((await this.deps.channels.memberCount(channelId)) > this.deps.pushMembersMax) return;
    await this.deps.fanout.publish(rooms.channel(channelId), { kind: 'typing', channelId, userId });
  }

  private async authorOf(userId: string, channelId: string, seq: number): Promise<StoredMessage> {
    await this.membership(channelId, userId);
    const message = await this.deps.messages.get(channelId, seq);
    if (!message) throw new MessageNotFoundError(channelId, seq);
    if (message.senderId !== userId) throw new NotAuthorError();
    return message;
  }

  private async checkChannelRoom(userId: string): Promise<void> {
    if ((await this.deps.channels.countChannelsOf(userId)) >= this.deps.channelsPerUserMax) {
      throw new TooManyChannelsError(this.deps.channelsPerUserMax);
    }
  }

  private async announceMembership(
    channelId: string,
    userId: string,
    event: 'joined' | 'left',
  ): Promise<void> {
    await this.deps.fanout.publish(rooms.user(userId), { kind: 'membership', channelId, userId, event });
  }

  /** One `chat.notification` per member with no live session (the chapter's push path). */
  private async notifyOffline(message: StoredMessage): Promise<void> {
    const memberIds = await this.deps.channels.members(message.channelId, '', this.deps.groupMembersMax);
    const others = memberIds.filter((memberId) => memberId !== message.senderId);
    if (others.length === 0) return;
    const statuses = await this.deps.presence.status(others, this.deps.nowMs());
    const offline = others.filter((memberId) => !statuses.get(memberId)?.online);
    for (const memberId of offline) {
      const event: NotificationEvent = {
        userId: memberId,
        channelId: message.channelId,
        seq: message.seq,
        senderId: message.senderId,
        preview: [...message.body].slice(0, PREVIEW_CHARS).join(''),
      };
      await this.deps.bus.publish(NOTIFICATION_TOPIC, memberId, event);
    }
    this.deps.observer?.onNotification?.(offline.length);
  }
}
