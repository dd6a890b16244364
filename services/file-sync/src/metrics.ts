import type { ServiceMetrics } from '@sysdesign/platform';
import type { FileSyncObserver } from './file-sync.js';
import type { CollectionReport } from './store/collector.js';

/** The file-sync service's own series, beside the platform's HTTP and process metrics. */
export function createFileSyncMetrics(metrics: ServiceMetrics) {
  const blocks = metrics.counter('filesync_blocks_uploaded_total', 'Blocks received, by result', ['result']);
  const logicalBytes = metrics.counter('filesync_block_bytes_received_total', 'Bytes of blocks received');
  const storedBytes = metrics.counter(
    'filesync_block_bytes_stored_total',
    'Bytes written at rest (compressed)',
  );
  const commits = metrics.counter('filesync_commits_total', 'Commits, by result', ['result']);
  const gcRuns = metrics.counter('filesync_gc_runs_total', 'Collector runs, by result', ['result']);
  const gcFreed = metrics.counter('filesync_gc_bytes_freed_total', 'Bytes at rest the collector freed');
  const gcBlocks = metrics.counter('filesync_gc_blocks_freed_total', 'Blocks the collector freed');
  const observer: FileSyncObserver = {
    blockUploaded(result, bytes, stored) {
      blocks.inc({ result });
      logicalBytes.inc(bytes);
      storedBytes.inc(stored);
    },
    committed(result) {
      commits.inc({ result });
    },
  };
  return {
    observer,
    collected(report: CollectionReport) {
      gcRuns.inc({ result: 'ok' });
      gcFreed.inc(report.bytesFreed);
      gcBlocks.inc(report.blocksFreed);
    },
    collectionFailed() {
      gcRuns.inc({ result: 'failed' });
    },
  };
}

export type FileSyncMetrics = ReturnType<typeof createFileSyncMetrics>;
