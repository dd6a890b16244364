import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCommandsModule } from './commands-module.js';

/**
 * `pnpm --filter @sysdesign/redis-limiters run generate`: rewrites src/generated/commands.ts when
 * the scripts changed. Every build (and so every pack) runs this while tests in other workers may
 * be reading the module: an unchanged module is left alone, and a changed one is replaced by a
 * rename, so a reader never sees half a file.
 */
const commandsDir = fileURLToPath(new URL('../commands/', import.meta.url));
const target = fileURLToPath(new URL('../src/generated/commands.ts', import.meta.url));
const rendered = renderCommandsModule(commandsDir);
if (existsSync(target) && readFileSync(target, 'utf8') === rendered) {
  console.log(`${target} is up to date`);
} else {
  writeFileSync(`${target}.tmp`, rendered);
  renameSync(`${target}.tmp`, target);
  console.log(`wrote ${target}`);
}
