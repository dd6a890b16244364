import { COMMANDS } from './generated/commands.js';
import type { Algorithm } from './policy.js';

/**
 * The Lua scripts, from `src/generated/commands.ts`: generated at build time from `commands/*.lua`
 * (published with the package, still readable as files), named `<name>-<numberOfKeys>.lua` as
 * BullMQ names its commands. Nothing is read from disk at run time, so a bundled copy works.
 */

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

const SCRIPTS = new Map<Algorithm, LimiterScript>(
  Object.entries(SCRIPT_FILES).map(([algorithm, file]) => {
    const camelName = file.slice(0, file.lastIndexOf('-'));
    const lua = COMMANDS[file];
    if (lua === undefined) throw new Error(`rate-limit scripts: commands/${file}.lua was not generated`);
    const script: LimiterScript = {
      commandName: `sysdesignLimiter${camelName[0]!.toUpperCase()}${camelName.slice(1)}`,
      numberOfKeys: Number(file.slice(file.lastIndexOf('-') + 1)),
      lua,
    };
    return [algorithm as Algorithm, script];
  }),
);

export function limiterScript(algorithm: Algorithm): LimiterScript {
  return SCRIPTS.get(algorithm)!;
}
