import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Renders `src/generated/commands.ts` from `commands/*.lua`: each script with its
 * `--- @include "<name>"` lines replaced by `commands/includes/<name>.lua`, as one string
 * constant per file, keyed by the file name without `.lua` (`<name>-<numberOfKeys>`, BullMQ's
 * naming). The library then never reads a file at run time, so it survives any bundler.
 */

const INCLUDE_LINE = /^--- @include "([A-Za-z0-9_-]+)"[ \t]*$/gm;
const MAX_INCLUDE_DEPTH = 4;

function inlineIncludes(commandsDir: string, source: string, depth: number): string {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error('rate-limit scripts: includes nested too deeply');
  return source.replace(INCLUDE_LINE, (_line, name: string) =>
    inlineIncludes(
      commandsDir,
      readFileSync(join(commandsDir, 'includes', `${name}.lua`), 'utf8'),
      depth + 1,
    ),
  );
}

export function renderCommandsModule(commandsDir: string): string {
  const files = readdirSync(commandsDir)
    .filter((name) => name.endsWith('.lua'))
    .sort();
  const entries = files.map((file) => {
    const lua = inlineIncludes(commandsDir, readFileSync(join(commandsDir, file), 'utf8'), 0);
    // Laid out as biome formats it, so formatting the tree never makes this file stale.
    return `  '${file.slice(0, -'.lua'.length)}':\n    ${JSON.stringify(lua)},`;
  });
  return [
    '// Generated from commands/*.lua by scripts/generate-commands.ts (`pnpm run generate`): do not edit.',
    '// A test fails when this file is older than the .lua files it is made from.',
    'export const COMMANDS: Readonly<Record<string, string>> = {',
    ...entries,
    '};',
    '',
  ].join('\n');
}
