import type { Sql } from '@sysdesign/platform';
import type { BlockStore } from './block-store.js';
import { dropRevision, lockNamespace, retryingTx } from './metadata.js';

/**
 * The garbage collector. Deletes are tombstones; the collector makes them final and gives the
 * space back, in two passes:
 *
 * 1. Tombstones older than the retention: each file's revisions are dropped (their blocks'
 *    reference counts go down, their grace period starts) and the file row goes.
 * 2. Blocks whose reference count is 0 and that nobody touched for the grace period: their rows
 *    are locked (SKIP LOCKED: a commit holding one is using it), their blobs deleted, their rows
 *    deleted, in one transaction per batch.
 *
 * Why it never frees a referenced block, even while uploads race it: a commit locks every block
 * row it names (FOR UPDATE) before it increments their counts, and the collector deletes only rows
 * it locked with refcount = 0 under that same lock. Either the commit locked first (the collector
 * skips the row, or sees refcount > 0 once it may look) or the collector did (the commit then finds
 * the row gone and answers "upload these blocks again"). An upload re-claims a block by upserting
 * its row before it writes the blob, so it waits for a collector holding the row and then writes
 * the blob anew.
 */

export interface CollectorOptions {
  tombstoneRetentionMs: number;
  blockGraceMs: number;
  /** Blocks freed per transaction. */
  batchSize?: number;
}

export interface CollectionReport {
  filesPurged: number;
  revisionsPurged: number;
  blocksFreed: number;
  bytesFreed: number;
  durationMs: number;
}

const DEFAULT_BATCH = 200;
/** One run stops after this many batches; the next run continues. */
const MAX_BATCHES_PER_RUN = 1000;

export class Collector {
  private running: Promise<CollectionReport> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly blocks: BlockStore,
    private readonly options: CollectorOptions,
  ) {}

  /** One collection; a call while one runs joins it. */
  collect(now: Date): Promise<CollectionReport> {
    this.running ??= this.run(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(now: Date): Promise<CollectionReport> {
    const started = performance.now();
    const report: CollectionReport = {
      filesPurged: 0,
      revisionsPurged: 0,
      blocksFreed: 0,
      bytesFreed: 0,
      durationMs: 0,
    };
    await this.purgeTombstones(now, report);
    await this.freeBlocks(now, report);
    report.durationMs = Math.round(performance.now() - started);
    return report;
  }

  private async purgeTombstones(now: Date, report: CollectionReport): Promise<void> {
    const cutoff = new Date(now.getTime() - this.options.tombstoneRetentionMs);
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
      const { rows } = await this.sql.query<{ id: bigint; user_id: string }>(
        'SELECT id, user_id FROM files WHERE deleted AND deleted_at <= $1 ORDER BY deleted_at LIMIT $2',
        [cutoff, this.options.batchSize ?? DEFAULT_BATCH],
      );
      if (rows.length === 0) return;
      for (const row of rows) await this.purgeFile(String(row.id), row.user_id, cutoff, now, report);
    }
  }

  private async purgeFile(
    fileId: string,
    userId: string,
    cutoff: Date,
    now: Date,
    report: CollectionReport,
  ): Promise<void> {
    await retryingTx(this.sql, async (tx) => {
      await lockNamespace(tx, userId);
      // Re-checked under the namespace lock: a commit may have brought the file back.
      const { rowCount } = await tx.query(
        'SELECT 1 FROM files WHERE id = $1 AND deleted AND deleted_at <= $2 FOR UPDATE',
        [fileId, cutoff],
      );
      if (rowCount === 0) return;
      const { rows } = await tx.query<{ id: bigint }>('SELECT id FROM revisions WHERE file_id = $1', [
        fileId,
      ]);
      for (const row of rows) await dropRevision(tx, userId, String(row.id), now);
      await tx.query('DELETE FROM files WHERE id = $1', [fileId]);
      report.filesPurged += 1;
      report.revisionsPurged += rows.length;
    });
  }

  private async freeBlocks(now: Date, report: CollectionReport): Promise<void> {
    const cutoff = new Date(now.getTime() - this.options.blockGraceMs);
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
      const freed = await retryingTx(this.sql, async (tx) => {
        const { rows } = await tx.query<{ hash: string; stored_size: number; stored: boolean }>(
          `SELECT hash, stored_size, stored FROM blocks
            WHERE refcount = 0 AND touched_at <= $1
            ORDER BY touched_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [cutoff, this.options.batchSize ?? DEFAULT_BATCH],
        );
        if (rows.length === 0) return 0;
        for (const row of rows) await this.blocks.delete(row.hash);
        const hashes = rows.map((row) => row.hash);
        await tx.query('DELETE FROM blocks WHERE hash IN (SELECT jsonb_array_elements_text($1::jsonb))', [
          JSON.stringify(hashes),
        ]);
        const bytes = rows.reduce((total, row) => total + (row.stored ? row.stored_size : 0), 0);
        await tx.query('UPDATE totals SET stored_bytes = stored_bytes - $1 WHERE id = 1', [bytes]);
        report.blocksFreed += rows.length;
        report.bytesFreed += bytes;
        return rows.length;
      });
      if (freed === 0) return;
    }
  }
}
