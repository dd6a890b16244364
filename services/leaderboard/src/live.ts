import type { RankedEntry } from './leaderboard.js';

/**
 * Live top 10 for server-sent events. Each watched board is polled every `intervalMs` (from the
 * index, so scores taken by any instance show), and watchers get an event only when the top 10
 * differs from the last one sent: a burst of scores between two polls becomes one event.
 */

export const LIVE_TOP = 10;

export class TooManyStreamsError extends Error {
  constructor(readonly streamsMax: number) {
    super(`this instance serves its maximum of ${streamsMax} live streams`);
  }
}

interface Writer {
  write: (chunk: string) => void;
  /** Ends the stream (the hub is closing). */
  end: () => void;
}

interface Watched {
  writers: Set<Writer>;
  timer: NodeJS.Timeout;
  last: string | undefined;
  polling: boolean;
}

export interface LiveHubOptions {
  top: (boardId: string) => Promise<RankedEntry[]>;
  intervalMs: number;
  streamsMax: number;
  onError: (error: unknown) => void;
  onStream?: (event: 'opened' | 'closed') => void;
}

export class LiveHub {
  private readonly boards = new Map<string, Watched>();
  private streams = 0;

  constructor(private readonly options: LiveHubOptions) {}

  /** Refuses a stream beyond the bound, before the caller commits to one. */
  checkRoom(): void {
    if (this.streams >= this.options.streamsMax) throw new TooManyStreamsError(this.options.streamsMax);
  }

  /** Starts sending the board's top 10 to `write`; the answer stops it. */
  open(boardId: string, write: Writer): () => void {
    this.checkRoom();
    this.streams += 1;
    this.options.onStream?.('opened');
    let watched = this.boards.get(boardId);
    if (!watched) {
      const timer = setInterval(() => void this.poll(boardId), this.options.intervalMs);
      timer.unref();
      watched = { writers: new Set(), timer, last: undefined, polling: false };
      this.boards.set(boardId, watched);
      void this.poll(boardId);
    }
    watched.writers.add(write);
    if (watched.last !== undefined) write.write(eventOf(watched.last));
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.streams -= 1;
      this.options.onStream?.('closed');
      const current = this.boards.get(boardId);
      if (!current) return;
      current.writers.delete(write);
      if (current.writers.size === 0) {
        clearInterval(current.timer);
        this.boards.delete(boardId);
      }
    };
  }

  get openStreams(): number {
    return this.streams;
  }

  private async poll(boardId: string): Promise<void> {
    const watched = this.boards.get(boardId);
    // One read at a time per board: a slow index skips ticks rather than piling reads up.
    if (!watched || watched.polling) return;
    watched.polling = true;
    try {
      const top = JSON.stringify({ entries: await this.options.top(boardId) });
      if (top !== watched.last) {
        watched.last = top;
        for (const writer of watched.writers) writer.write(eventOf(top));
      }
    } catch (error) {
      this.options.onError(error);
    } finally {
      watched.polling = false;
    }
  }

  close(): void {
    for (const watched of this.boards.values()) {
      clearInterval(watched.timer);
      for (const writer of watched.writers) writer.end();
    }
    this.boards.clear();
    this.streams = 0;
  }
}

function eventOf(data: string): string {
  return `event: top\ndata: ${data}\n\n`;
}
