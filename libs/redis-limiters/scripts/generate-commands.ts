import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCommandsModule } from './commands-module.js';

/** `pnpm --filter @sysdesign/redis-limiters run generate`: rewrites src/generated/commands.ts. */
const commandsDir = fileURLToPath(new URL('../commands/', import.meta.url));
const target = fileURLToPath(new URL('../src/generated/commands.ts', import.meta.url));
writeFileSync(target, renderCommandsModule(commandsDir));
console.log(`wrote ${target}`);
