import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { MAX_RULES_FILE_BYTES, parseRules, type RuleSet, RulesError } from '../domain/rules.js';

/**
 * Reads the rules file, and watches it: on a change the file is read and parsed again, and only
 * a valid file replaces the rules in force. The directory is watched rather than the file, so an
 * editor that saves by renaming a new file into place, or a Kubernetes ConfigMap that swaps a
 * symlink, is seen too; events are debounced, and content that did not change is ignored.
 */

export const RELOAD_DEBOUNCE_MS = 100;

export async function loadRulesFile(file: string): Promise<RuleSet> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_RULES_FILE_BYTES)
      throw new RulesError([`${file} exceeds ${MAX_RULES_FILE_BYTES} bytes`]);
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof RulesError) throw error;
    throw new RulesError([`cannot read ${file}: ${(error as Error).message}`]);
  }
  return parseRules(text);
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

  const reloadOnce = async () => {
    // The file is read twice (here and by loadRulesFile) so a content already seen, valid or
    // not, costs no parse and counts no reload.
    const bytes = await readFile(file).catch(() => undefined);
    const hash = bytes === undefined ? undefined : createHash('sha256').update(bytes).digest('hex');
    if (hash !== undefined && (hash === lastHash || hash === lastRejectedHash)) return;
    try {
      const rules = await loadRulesFile(file);
      lastHash = rules.contentHash;
      lastRejectedHash = undefined;
      if (!closed) handlers.onReload(rules);
    } catch (error) {
      if (!(error instanceof RulesError)) throw error;
      lastRejectedHash = hash;
      if (!closed) handlers.onInvalid(error);
    }
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
