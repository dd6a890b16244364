import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { MAX_RULES_FILE_BYTES, parseRules, type RuleSet, RulesError } from '../domain/rules.js';

/**
 * Reads the rules file, and watches it: on a change the file is read and parsed again, and only
 * a valid file replaces the rules in force. The directory is watched rather than the file, so an
 * editor that saves by renaming a new file into place, or a Kubernetes ConfigMap that swaps a
 * symlink, is seen too; events are debounced, and content that did not change is ignored.
 */

export const RELOAD_DEBOUNCE_MS = 100;

/**
 * The file's bytes, refusing one larger than `MAX_RULES_FILE_BYTES` without reading it all: a
 * file that grew by mistake (or by malice) costs at most the bound in memory.
 */
async function readRulesBytes(file: string): Promise<Buffer> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const buffer = Buffer.alloc(MAX_RULES_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_RULES_FILE_BYTES)
      throw new RulesError([`${file} exceeds ${MAX_RULES_FILE_BYTES} bytes`]);
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof RulesError) throw error;
    throw new RulesError([`cannot read ${file}: ${(error as Error).message}`]);
  } finally {
    await handle?.close();
  }
}

/** Any failure to load the rules as the refusal it is, whatever threw it. */
function asRulesError(error: unknown, file: string): RulesError {
  if (error instanceof RulesError) return error;
  return new RulesError([`cannot load ${file}: ${error instanceof Error ? error.message : String(error)}`]);
}

export async function loadRulesFile(file: string): Promise<RuleSet> {
  const bytes = await readRulesBytes(file);
  try {
    return parseRules(bytes.toString('utf8'));
  } catch (error) {
    throw asRulesError(error, file);
  }
}

export interface RulesWatcherHandlers {
  /** The file changed and is valid. */
  onReload(rules: RuleSet): void;
  /** The file changed and is invalid (or unreadable): the rules in force stay. */
  onInvalid(error: RulesError): void;
}

export interface RulesWatcher {
  close(): void;
  /** Reads the file now (as a change would); resolves when it has been applied or rejected. */
  reload(): Promise<void>;
}

export function watchRules(file: string, currentHash: string, handlers: RulesWatcherHandlers): RulesWatcher {
  let lastHash = currentHash;
  // An invalid file is reported once, not again on every event while it stays the same.
  let lastRejectedHash: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let rerun = false;
  let closed = false;

  const refuse = (hash: string | undefined, error: unknown) => {
    lastRejectedHash = hash;
    if (!closed) handlers.onInvalid(asRulesError(error, file));
  };

  // The bytes are hashed before they are parsed, so a content already seen, valid or not, costs
  // no parse and counts no reload. Every failure to read or parse is a refusal: the rules stay.
  const reloadOnce = async () => {
    let bytes: Buffer;
    try {
      bytes = await readRulesBytes(file);
    } catch (error) {
      refuse(undefined, error);
      return;
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (hash === lastHash || hash === lastRejectedHash) return;
    let rules: RuleSet;
    try {
      rules = parseRules(bytes.toString('utf8'));
    } catch (error) {
      refuse(hash, error);
      return;
    }
    lastHash = hash;
    lastRejectedHash = undefined;
    if (!closed) handlers.onReload(rules);
  };

  const reload = async (): Promise<void> => {
    if (running !== undefined) {
      rerun = true;
      return running;
    }
    running = (async () => {
      do {
        rerun = false;
        await reloadOnce();
      } while (rerun && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const name = basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), RELOAD_DEBOUNCE_MS);
    });
    watcher.on('error', () => undefined);
  } catch (error) {
    throw new RulesError([`cannot watch ${dirname(file)}: ${(error as Error).message}`]);
  }

  return {
    reload,
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
