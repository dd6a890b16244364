import { authVars, backendVars, intVar, serviceVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'file-sync';
export const DEFAULT_PORT = 3009;
const MIB = 1024 * 1024;

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  BLOB_DIR: backendVars.BLOB_DIR,
  AUTH_SECRET: authVars.AUTH_SECRET,
  /** How the server splits a whole file sent to PUT /v1/content: FastCDC or fixed 4 MiB blocks. */
  CHUNKING: z.enum(['fastcdc', 'fixed']).default('fastcdc'),
  /** FastCDC's average block size (a power of two); blocks are a quarter to four times this. */
  CHUNK_AVG_BYTES: intVar(MIB, 1024, MIB).refine(
    (value) => (value & (value - 1)) === 0,
    'must be a power of two',
  ),
  /** How blocks are compressed at rest (Node 20's zlib has no zstd). */
  COMPRESSION: z.enum(['brotli', 'gzip', 'none']).default('gzip'),
  /** Logical bytes of every kept revision of one user's files. */
  QUOTA_BYTES_PER_USER: intVar(10 * 1024 * MIB, MIB, 2 ** 50),
  /** Bytes of blocks at rest (after compression) across every user: the disk bound. */
  MAX_STORED_BYTES: intVar(50 * 1024 * MIB, MIB, 2 ** 50),
  /** The largest file one commit or one PUT /v1/content may describe. */
  MAX_FILE_BYTES: intVar(1024 * MIB, 1024, 2 ** 40),
  /** Revisions kept per file besides the head; older ones are pruned at the next commit. */
  KEEP_REVISIONS: intVar(20, 1, 10_000),
  /** A deleted file stays restorable this long before the collector purges it. */
  TOMBSTONE_RETENTION_SECONDS: intVar(30 * 24 * 3600, 0, 10 * 365 * 24 * 3600),
  /** An unreferenced block survives this long (an upload between its blocks and its commit). */
  BLOCK_GRACE_SECONDS: intVar(3600, 0, 30 * 24 * 3600),
  /** How often the collector runs in the background; 0 runs it only through POST /v1/admin/gc. */
  GC_INTERVAL_SECONDS: intVar(600, 0, 7 * 24 * 3600),
  /** Longest wait of GET /v1/changes/longpoll. */
  LONGPOLL_MAX_SECONDS: intVar(60, 1, 600),
  /** Long polls waiting at once, across users; beyond it the poll answers at once with a backoff. */
  LONGPOLL_MAX_WAITERS: intVar(10_000, 1, 100_000),
});

export type Config = z.infer<typeof configSchema>;
