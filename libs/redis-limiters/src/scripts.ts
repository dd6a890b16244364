import { readFileSync } from 'node:fs';
import type { Algorithm } from './policy.js';

/**
 * The Lua scripts live as files in `commands/` (published with the package), named
 * `<name>-<numberOfKeys>.lua` as BullMQ names its commands. They are read once, at first use,
 * relative to this module, which sits one level below the package root both as `src/scripts.ts`
 * and as `dist/scripts.js`. A line `--- @include "<name>"` is replaced by `commands/includes/<name>.lua`.
 */

const COMMANDS_DIR = new URL('../commands/', import.meta.url);
const INCLUDE_LINE = /^--- @include "([A-Za-z0-9_-]+)"[ \t]*$/gm;
const MAX_INCLUDE_DEPTH = 4;

const SCRIPT_FILES: Record<Algorithm, string> = {
  token_bucket: 'tokenBucket-1',
  leaking_bucket: 'leakingBucket-1',
  fixed_window: 'fixedWindow-1',
  sliding_window_log: 'slidingWindowLog-1',
  sliding_window_counter: 'slidingWindowCounter-1',
  gcra: 'gcra-1',
};

export interface LimiterScript {
  /** The ioredis command name it is defined under (namespaced so it cannot clash with the app's). */
  commandName: string;
  numberOfKeys: number;
  lua: string;
}

const loaded = new Map<Algorithm, LimiterScript>();

function readCommandFile(relativePath: string): string {
  return readFileSync(new URL(relativePath, COMMANDS_DIR), 'utf8');
}

function inlineIncludes(source: string, depth: number): string {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error('rate-limit scripts: includes nested too deeply');
  return source.replace(INCLUDE_LINE, (_line, name: string) =>
    inlineIncludes(readCommandFile(`includes/${name}.lua`), depth + 1),
  );
}

export function limiterScript(algorithm: Algorithm): LimiterScript {
  let script = loaded.get(algorithm);
  if (script === undefined) {
    const file = SCRIPT_FILES[algorithm];
    const numberOfKeys = Number(file.slice(file.lastIndexOf('-') + 1));
    const camelName = file.slice(0, file.lastIndexOf('-'));
    script = {
      commandName: `sysdesignLimiter${camelName[0]!.toUpperCase()}${camelName.slice(1)}`,
      numberOfKeys,
      lua: inlineIncludes(readCommandFile(`${file}.lua`), 0),
    };
    loaded.set(algorithm, script);
  }
  return script;
}
