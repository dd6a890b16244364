#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_AVG_BLOCK_BYTES } from '../domain/chunker.js';
import { SyncApi } from './api.js';
import { SyncEngine } from './engine.js';
import { SyncState } from './state.js';
import { watchAndSync } from './watch.js';

const USAGE = `usage: sysdesign-sync <folder> --server URL [--token T | SYSDESIGN_SYNC_TOKEN] [--device NAME] [--once]

Keeps <folder> in sync with the file-sync service: uploads local changes (only the blocks the
server lacks), downloads remote ones, keeps conflicting edits as conflicted copies.
  --once     sync one round and exit (exit code 1 when the round failed)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      device: { type: 'string' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const token = values.token ?? process.env.SYSDESIGN_SYNC_TOKEN;
  if (values.help || positionals.length !== 1 || values.server === undefined || token === undefined) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const folder = resolve(positionals[0]!);
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const api = new SyncApi(values.server, token);
  const engine = new SyncEngine({
    folder,
    api,
    state: await SyncState.open(folder),
    device:
      values.device ?? (process.env.HOSTNAME || 'device').slice(0, 64).replace(/[^A-Za-z0-9._ -]/g, '_'),
    chunking: { strategy: 'fastcdc', avgBytes: DEFAULT_AVG_BLOCK_BYTES },
    log,
  });
  if (values.once) {
    const { report } = await engine.syncOnce();
    log(
      `synced: ${report.uploaded.length} up, ${report.downloaded.length} down, ` +
        `${report.deletedRemote.length + report.deletedLocal.length} deleted, ${report.conflicts.length} conflicts`,
    );
    return 0;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await watchAndSync({ folder, api, engine, signal: stop.signal, log });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sysdesign-sync: ${(error as Error).message}`);
    process.exit(1);
  },
);
