/**
 * Imports the package the way an outside project does: `pnpm pack` (which builds dist/ in its prepack
 * script and applies publishConfig), unpack the tarball into a temporary project's node_modules, and
 * run plain `node` there without the workspace's `@sysdesign/source` condition, then typecheck a
 * TypeScript consumer of the root and /harness under NodeNext, Bundler and Node10 resolution.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type InstalledPackage,
  OUTSIDE_COMMAND_TIMEOUT_MS,
  PACK_TIMEOUT_MS,
  packAndInstall,
  RESOLUTIONS,
  runNode,
  typecheckConsumer,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashRing, JumpHash, Maglev, Rendezvous } from '../src/index.js';
import { makeKeys, nodeNames } from './helpers.js';

const CONSUMER_TS = `
import { createPlacement, HashRing, type Placement, type RangeMove } from '@sysdesign/consistent-hashing';
import { type BalanceReport, measureBalance } from '@sysdesign/consistent-hashing/harness';
const ring = new HashRing({ vnodes: 16, nodes: ['a', { id: 'b', weight: 2 }] });
const moves: RangeMove[] = ring.add('c');
const replicas: string[] = ring.preferenceList('key', 2, { skip: (node) => node === 'a' });
const placement: Placement = createPlacement({ algorithm: 'maglev', tableSize: 1009, nodes: ['a'] });
const report: BalanceReport = measureBalance(placement, ['k1', 'k2']);
export const answer: [number, number, string, number] = [moves.length, replicas.length, placement.lookup('key'), report.keys];
`;

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
let project: InstalledPackage;

beforeAll(async () => {
  project = await packAndInstall(packageDir);
}, PACK_TIMEOUT_MS);

afterAll(() => project?.remove());

describe('the published package', () => {
  it('ships only dist/, the manifest, README and LICENSE, with exports pointing only into dist', () => {
    const manifest = JSON.parse(readFileSync(join(project.installedDir, 'package.json'), 'utf8'));
    const extra = project.packedFiles.filter(
      (file) => !/^(dist\/[\w-]+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(file),
    );
    expect(extra).toEqual([]);
    expect(project.packedFiles).toEqual(expect.arrayContaining(['dist/index.js', 'README.md', 'LICENSE']));
    expect(project.packedFiles).toContain(manifest.types.replace(/^\.\//, ''));
    expect(project.packedFiles).toContain(manifest.typesVersions['*'].harness[0].replace(/^\.\//, ''));
    expect(JSON.stringify(manifest.exports)).not.toContain('@sysdesign/source');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it('imports nothing but its own files and node: built-ins (zero runtime dependencies)', () => {
    // Every import specifier in dist/*.js is relative: no platform, no services, no npm packages.
    const foreign: string[] = [];
    for (const file of readdirSync(join(project.installedDir, 'dist')).filter((name) =>
      name.endsWith('.js'),
    )) {
      const source = readFileSync(join(project.installedDir, 'dist', file), 'utf8');
      for (const match of source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
        if (!match[1]!.startsWith('./')) foreign.push(`${file}: ${match[1]}`);
      }
    }
    expect(foreign).toEqual([]);
  });

  it(
    'runs under plain node with no export conditions and answers exactly as the sources do',
    async () => {
      const keys = makeKeys(200);
      const nodes = nodeNames(9);
      const script = `
      import { HashRing, JumpHash, Maglev, Rendezvous, ConsistentHashingError } from '@sysdesign/consistent-hashing';
      import { measureBalance } from '@sysdesign/consistent-hashing/harness';
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
        balanced: measureBalance(ring, keys).keys,
      }));
    `;
      const output = JSON.parse(await runNode(project, script));
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
        balanced: keys.length,
      });
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );

  it.each(RESOLUTIONS)(
    'typechecks a strict consumer of the root and /harness under %s resolution',
    async (resolution) => {
      expect(await typecheckConsumer(project, resolution, CONSUMER_TS)).toBe('');
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );
});
