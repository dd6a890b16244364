import type { EventBus, ServiceLogger as Logger, Subscription } from '@sysdesign/platform';
import { z } from 'zod';
import { NOTIFICATION_TOPIC, type NotificationEvent } from '../chat.js';
import type { ChannelStore } from '../store/channel-store.js';

/**
 * Push notifications for members with no live session. The chat publishes `chat.notification`
 * on the bus; this consumer hands each to a `PushSender`. The third-party push provider (APNs,
 * FCM) is the boundary: the default sender records what it would push in `push_log` (deduped by
 * user, channel and sequence, so a redelivered event is not pushed twice) and logs it.
 */

export const NOTIFIER_GROUP = 'chat-notifier';

export interface PushSender {
  send(event: NotificationEvent): Promise<void>;
}

const notificationEvent = z.object({
  userId: z.string(),
  channelId: z.string(),
  seq: z.number().int().min(1),
  senderId: z.string(),
  preview: z.string(),
});

export class RecordingPushSender implements PushSender {
  constructor(
    private readonly channels: ChannelStore,
    private readonly log: Logger,
    private readonly nowMs: () => number,
  ) {}

  async send(event: NotificationEvent): Promise<void> {
    const recorded = await this.channels.recordPush(
      event.userId,
      event.channelId,
      event.seq,
      event.preview,
      this.nowMs(),
    );
    // The user id and channel only: the preview is message content and stays out of logs.
    if (recorded)
      this.log.info({ userId: event.userId, channelId: event.channelId, seq: event.seq }, 'push recorded');
  }
}

export async function startNotifier(
  bus: EventBus,
  sender: PushSender,
  log: Logger,
  onPushed: () => void,
): Promise<Subscription> {
  return bus.subscribe(NOTIFICATION_TOPIC, NOTIFIER_GROUP, async (message) => {
    const parsed = notificationEvent.safeParse(message.value);
    if (!parsed.success) {
      log.warn({ messageId: message.id }, 'dropping a malformed chat.notification event');
      return;
    }
    await sender.send(parsed.data);
    onPushed();
  });
}
