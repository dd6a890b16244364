import type { AckUpdate, ChannelStore } from '../store/channel-store.js';

/**
 * Acks arrive once per delivered batch per device; writing each would cost a row update per
 * message. They are coalesced (the highest per device and channel) and written every
 * ACK_FLUSH_MS and when a socket closes. A crash loses at most that window of cursor movement,
 * which only means a resume resends a few messages the client already has (it dedupes by seq).
 */
export class AckBuffer {
  private pending = new Map<string, AckUpdate>();
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly channels: ChannelStore,
    flushMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  record(update: AckUpdate): void {
    const key = `${update.userId}\u0000${update.deviceId}\u0000${update.channelId}`;
    const current = this.pending.get(key);
    if (!current || current.seq < update.seq) this.pending.set(key, update);
  }

  /** Writes what is pending; flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.channels.saveAcks(batch);
      } catch (error) {
        // Put them back (unless newer acks came meanwhile) for the next flush.
        for (const update of batch) this.record(update);
        this.onError(error);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
