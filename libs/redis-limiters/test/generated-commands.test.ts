import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderCommandsModule } from '../scripts/commands-module.js';
import { MemoryLimiter } from '../src/index.js';

const commandsDir = fileURLToPath(new URL('../commands/', import.meta.url));
const generated = fileURLToPath(new URL('../src/generated/commands.ts', import.meta.url));

describe('the Lua scripts as a generated module', () => {
  it('is up to date with commands/*.lua (run `pnpm --filter @sysdesign/redis-limiters generate`)', () => {
    expect(readFileSync(generated, 'utf8')).toBe(renderCommandsModule(commandsDir));
  });

  it('is what the library loads: no file is read at run time', () => {
    const sources = ['../src/scripts.ts', '../src/redis-limiter.ts'].map((path) =>
      readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8'),
    );
    for (const source of sources) expect(source).not.toMatch(/node:fs|readFileSync/);
  });
});

describe('a limiter built without options', () => {
  it('says it needs a name and how to pass one', () => {
    const policy = { algorithm: 'gcra', limit: 1, windowMs: 1_000 } as const;
    const build = () => new (MemoryLimiter as new (policy: unknown) => MemoryLimiter)(policy);
    expect(build).toThrow(/MemoryLimiter needs a name: new MemoryLimiter\(policy, \{ name: 'api' \}\)/);
  });
});
