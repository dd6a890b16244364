import { join } from 'node:path';
import { readTextIfPresent } from '@sysdesign/platform';
import type { Disk } from './disk.js';
import { crc32 } from './entry.js';
import { corruption } from './errors.js';

/**
 * The manifest: which SSTables are live, and how much of the commit log they already hold. It is
 * rewritten whole on every flush and compaction (write `MANIFEST.tmp`, fsync, rename over
 * `MANIFEST`, fsync the directory), so it is always one complete version: the old one or the new
 * one. Table files it does not list are leftovers of a flush or compaction that crashed before
 * its manifest update, and are deleted on open; log segments up to `flushedLogThrough` are in
 * tables and are deleted too.
 *
 * File: one line of JSON (`ManifestState`), a newline, the CRC-32 of the JSON as 8 hex digits, a
 * newline.
 */

export const MANIFEST_FILE = 'MANIFEST';
export const MANIFEST_FORMAT_VERSION = 1;

export interface ManifestState {
  format: number;
  /** The highest sequence number ever assigned: sequence numbers never go back, even if every table is dropped. */
  lastSeq: number;
  /** Log segments with ids up to this one are fully contained in live tables. */
  flushedLogThrough: number;
  /** The next table id to use. */
  nextTableId: number;
  /** Live table ids. */
  tables: number[];
}

export function emptyManifest(): ManifestState {
  return { format: MANIFEST_FORMAT_VERSION, lastSeq: 0, flushedLogThrough: 0, nextTableId: 1, tables: [] };
}

/** The manifest of `disk.dir`, or undefined for a new directory. */
export async function readManifest(disk: Disk): Promise<ManifestState | undefined> {
  const text = await readTextIfPresent(join(disk.dir, MANIFEST_FILE));
  if (text === undefined) return undefined;
  const [json, checksum] = text.split('\n');
  if (
    json === undefined ||
    checksum === undefined ||
    crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0') !== checksum
  ) {
    throw corruption(MANIFEST_FILE, 0, 'manifest checksum mismatch');
  }
  const state = JSON.parse(json) as ManifestState;
  if (state.format !== MANIFEST_FORMAT_VERSION || !Array.isArray(state.tables)) {
    throw corruption(MANIFEST_FILE, 0, `unknown manifest format ${String(state.format)}`);
  }
  return state;
}

/** Atomically replaces the manifest with `state`, durably. */
export async function writeManifest(disk: Disk, state: ManifestState): Promise<void> {
  const json = JSON.stringify(state);
  const text = `${json}\n${crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0')}\n`;
  await disk.replaceFile(join(disk.dir, MANIFEST_FILE), text);
}
