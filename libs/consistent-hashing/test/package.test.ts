/**
 * Imports the package the way an outside project does: `pnpm pack` (which builds dist/ in its prepack
 * script and applies publishConfig), unpack the tarball into a temporary project's node_modules, and
 * run plain `node` there without the workspace's `@sysdesign/source` condition, then typecheck a
 * TypeScript consumer against the published .d.ts files.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InstalledPackage, packAndInstall } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashRing, JumpHash, Maglev, Rendezvous } from '../src/index.js';
import { makeKeys, nodeNames } from './helpers.js';

const PACK_TIMEOUT_MS = 120_000;
const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

let installed: InstalledPackage | undefined;
let consumerDir: string;
let installedDir: string;
let tarballFiles: string[];

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(async () => {
  installed = await packAndInstall(packageDir);
  ({ projectDir: consumerDir, installedDir, tarballFiles } = installed);
}, PACK_TIMEOUT_MS);

afterAll(() => installed?.remove());

describe('the published package', () => {
  it('ships only dist/, the manifest, README and LICENSE, with exports pointing only into dist', () => {
    const manifest = JSON.parse(readFileSync(join(installedDir, 'package.json'), 'utf8'));
    const extra = tarballFiles.filter(
      (file) => !/^package\/(dist\/[\w-]+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(file),
    );
    expect(extra).toEqual([]);
    expect(tarballFiles).toContain('package/dist/index.js');
    expect(tarballFiles).toContain('package/README.md');
    expect(JSON.stringify(manifest.exports)).not.toContain('@sysdesign/source');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it('imports nothing but its own files and node: built-ins (zero runtime dependencies)', () => {
    // Every import specifier in dist/*.js is relative: no platform, no services, no npm packages.
    const foreign: string[] = [];
    for (const file of readdirSync(join(installedDir, 'dist')).filter((name) => name.endsWith('.js'))) {
      const source = readFileSync(join(installedDir, 'dist', file), 'utf8');
      for (const match of source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
        if (!match[1]!.startsWith('./')) foreign.push(`${file}: ${match[1]}`);
      }
    }
    expect(foreign).toEqual([]);
  });

  it('runs under plain node with no export conditions and answers exactly as the sources do', () => {
    const keys = makeKeys(200);
    const nodes = nodeNames(9);
    const script = `
      import { HashRing, JumpHash, Maglev, Rendezvous, ConsistentHashingError } from '@sysdesign/consistent-hashing';
      import manifest from '@sysdesign/consistent-hashing/package.json' with { type: 'json' };
      const keys = ${JSON.stringify(keys)};
      const nodes = ${JSON.stringify(nodes)};
      const ring = new HashRing({ vnodes: 64, nodes });
      const jump = new JumpHash({ nodes });
      const maglev = new Maglev({ tableSize: 1009, nodes });
      const rendezvous = new Rendezvous({ nodes });
      let code;
      try { ring.add(nodes[0]); } catch (error) { code = error instanceof ConsistentHashingError ? error.code : 'wrong class'; }
      console.log(JSON.stringify({
        name: manifest.name,
        ring: keys.map((key) => ring.lookup(key)),
        preference: keys.map((key) => ring.preferenceList(key, 3)),
        jump: keys.map((key) => jump.lookup(key)),
        maglev: keys.map((key) => maglev.lookup(key)),
        rendezvous: keys.map((key) => rendezvous.lookup(key)),
        code,
      }));
    `;
    writeFileSync(join(consumerDir, 'main.mjs'), script);
    const output = JSON.parse(run(process.execPath, ['main.mjs'], consumerDir));
    const ring = new HashRing({ vnodes: 64, nodes });
    const jump = new JumpHash({ nodes });
    const maglev = new Maglev({ tableSize: 1009, nodes });
    const rendezvous = new Rendezvous({ nodes });
    expect(output).toEqual({
      name: '@sysdesign/consistent-hashing',
      ring: keys.map((key) => ring.lookup(key)),
      preference: keys.map((key) => ring.preferenceList(key, 3)),
      jump: keys.map((key) => jump.lookup(key)),
      maglev: keys.map((key) => maglev.lookup(key)),
      rendezvous: keys.map((key) => rendezvous.lookup(key)),
      code: 'CH_ERR_DUPLICATE_NODE',
    });
  });

  it('typechecks a strict TypeScript consumer against the published declarations', () => {
    writeFileSync(
      join(consumerDir, 'consumer.ts'),
      `import { createPlacement, HashRing, type Placement, type RangeMove } from '@sysdesign/consistent-hashing';
      const ring = new HashRing({ vnodes: 16, nodes: ['a', { id: 'b', weight: 2 }] });
      const moves: RangeMove[] = ring.add('c');
      const replicas: string[] = ring.preferenceList('key', 2, { skip: (node) => node === 'a' });
      const placement: Placement = createPlacement({ algorithm: 'maglev', tableSize: 1009 }, ['a']);
      export const answer: [number, number, string] = [moves.length, replicas.length, placement.lookup('key')];
      `,
    );
    writeFileSync(
      join(consumerDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          noEmit: true,
          types: [],
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = require.resolve('typescript/bin/tsc');
    expect(() => run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumerDir)).not.toThrow();
  });
});
