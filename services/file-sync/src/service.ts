import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createFsBlobStore,
  defineService,
  openServiceSql,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  TokenAuthority,
} from '@sysdesign/platform';
import { registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { mapFileSyncError } from './errors.js';
import { FileSync } from './file-sync.js';
import { createFileSyncMetrics, type FileSyncMetrics } from './metrics.js';
import { ADMIN_SCOPE } from './routes/admin.js';
import { BlockStore } from './store/block-store.js';
import { ChangeNotifier } from './store/change-notifier.js';
import { Collector } from './store/collector.js';
import { MetadataStore } from './store/metadata.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  /** The clock of revisions, tombstones and the collector's grace periods; defaults to Date.now. */
  nowMs: () => number;
}

function startCollector(
  app: ServiceApp,
  config: Config,
  collector: Collector,
  metrics: FileSyncMetrics,
  now: () => Date,
): void {
  if (config.GC_INTERVAL_SECONDS === 0) return;
  const timer = setInterval(() => {
    collector.collect(now()).then(
      (report) => {
        metrics.collected(report);
        if (report.blocksFreed > 0 || report.filesPurged > 0) app.log.info({ report }, 'garbage collected');
      },
      (error: unknown) => {
        metrics.collectionFailed();
        app.log.error({ err: error }, 'garbage collection failed');
      },
    );
  }, config.GC_INTERVAL_SECONDS * 1000);
  timer.unref();
  app.lifecycle.defer('collector', () => clearInterval(timer));
}

/**
 * Opens the parts in dependency order, each closed in reverse by the app's lifecycle: Sql
 * (Postgres or PGlite) with migrations, the blob store for blocks (`<BLOB_DIR>/file-sync`), the
 * collector's timer, then the routes.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: Partial<BuildOptions>,
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const now = () => new Date(nowMs());
  const sql = await openServiceSql(app, config, context, { migrations: [MIGRATIONS_DIR] });
  const blobs = await createFsBlobStore({ dir: join(config.BLOB_DIR, SERVICE_NAME) });
  app.lifecycle.defer('blob store', () => blobs.close());
  app.readiness.add('blobs', () => blobs.ping());
  const metrics = createFileSyncMetrics(app.metrics);
  const metadata = new MetadataStore(sql);
  const blocks = new BlockStore(blobs, config.COMPRESSION);
  const notifier = new ChangeNotifier(config.LONGPOLL_MAX_WAITERS);
  const fileSync = new FileSync({
    metadata,
    blocks,
    notifier,
    limits: {
      quotaBytes: config.QUOTA_BYTES_PER_USER,
      maxStoredBytes: config.MAX_STORED_BYTES,
      maxFileBytes: config.MAX_FILE_BYTES,
      keepRevisions: config.KEEP_REVISIONS,
    },
    chunking: { strategy: config.CHUNKING, avgBytes: config.CHUNK_AVG_BYTES },
    now,
    observer: metrics.observer,
  });
  const collector = new Collector(sql, blocks, {
    tombstoneRetentionMs: config.TOMBSTONE_RETENTION_SECONDS * 1000,
    blockGraceMs: config.BLOCK_GRACE_SECONDS * 1000,
  });
  startCollector(app, config, collector, metrics, now);
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
    devScopes: [ADMIN_SCOPE],
  });
  await registerApp(app, {
    fileSync,
    metadata,
    notifier,
    collector,
    authority: new TokenAuthority({ secret }),
    quotaBytes: config.QUOTA_BYTES_PER_USER,
    longpollMaxSeconds: config.LONGPOLL_MAX_SECONDS,
    now,
  });
}

export const fileSyncService = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'File sync: content-defined blocks stored once by hash, delta uploads, revisions, conflicted copies and long-polled changes.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapFileSyncError,
  setup,
});

/** Builds the app from its configuration (tests pass `nowMs`); closing it closes everything it opened. */
export const buildService = fileSyncService.build;
