import type { StorageLogger } from './options.js';

/** Keys longer than this are cut in the log line (a key may be 1 KiB). */
const LOGGED_KEY_CHARS = 128;

/**
 * Keys whose record the layer above could not decode (the engine stores opaque bytes; the
 * checksums passed, so the bytes are as written, but no reader understands them: a bug, or a
 * record written by something else). One such record must not abort a recovery scan or crash the
 * boot: the reader quarantines its key, serves it as absent, and the next write of the key (a
 * repair from another replica, or a client's) replaces the record and releases the key.
 *
 * Each key is logged once when it enters; `size` feeds a gauge and the node's readiness, which
 * stays degraded while any key is quarantined.
 */
export class Quarantine {
  private readonly keys = new Map<string, string>();

  constructor(private readonly logger: StorageLogger) {}

  /** Records that `key`'s record could not be decoded, and why. */
  add(key: string, reason: string, recordBytes: number): void {
    if (this.keys.has(key)) return;
    this.keys.set(key, reason);
    this.logger.error(
      { key: key.slice(0, LOGGED_KEY_CHARS), reason, recordBytes, quarantined: this.keys.size },
      'undecodable record: its key is quarantined and served as absent until a write replaces it',
    );
  }

  /** A write replaced the key's record. */
  release(key: string): void {
    if (this.keys.delete(key)) {
      this.logger.info(
        { key: key.slice(0, LOGGED_KEY_CHARS), quarantined: this.keys.size },
        'quarantined key rewritten',
      );
    }
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  get size(): number {
    return this.keys.size;
  }
}
