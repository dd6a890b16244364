import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InstalledPackage, packAndInstall } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Builds the package with its own tsconfig.build.json, packs it with `pnpm pack` (which applies
// publishConfig, as publishing does), installs the tarball into a temp project's node_modules and
// uses it from plain `node` and from `tsc` with no export conditions: what an outside user gets.

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const tscBin = require.resolve('typescript/bin/tsc');

const CONSUMER_JS = `
import {
  Coordinator, EMPTY_CLOCK, MemoryNetwork, MemoryReplicaStore, Random, Replica, VirtualClock,
  decodeContext, encodeContext, simulate,
} from '@sysdesign/quorum';

const clock = new VirtualClock();
const network = new MemoryNetwork({ clock, random: new Random(1) });
const nodes = ['http://a', 'http://b', 'http://c'];
const coordinators = nodes.map((self) => {
  const replica = new Replica({ self, incarnation: 1, store: new MemoryReplicaStore(), clock });
  network.register(self, (request) => replica.handle(request));
  return new Coordinator({ self, transport: network.transport(self), preferenceList: () => nodes, clock,
    local: (request) => replica.handle(request) });
});
const text = (value) => new TextDecoder().decode(value);
const first = await clock.run(coordinators[0].put('k', new TextEncoder().encode('one')));
await clock.run(coordinators[1].put('k', new TextEncoder().encode('two'), first.context));
await clock.run(coordinators[2].put('k', new TextEncoder().encode('three'), first.context));
const read = await clock.run(coordinators[0].get('k', { r: 3 }));
const context = encodeContext(read.context);
const report = await simulate({ seed: 3, operations: 30 });
console.log(JSON.stringify({
  siblings: read.values.map(text).sort(),
  contextRoundTrips: JSON.stringify(decodeContext(context)) === JSON.stringify(read.context),
  empty: EMPTY_CLOCK.length,
  simulationOk: report.ok,
}));
`;

const CONSUMER_TS = `
import { type PeerRequest, type PeerResponse, type Transport, Coordinator, QuorumNotMetError } from '@sysdesign/quorum';

const transport: Transport = {
  async request(to: string, request: PeerRequest, options: { timeoutMs: number }): Promise<PeerResponse> {
    throw new Error(\`no network: \${to} \${request.type} \${options.timeoutMs}\`);
  },
};
const coordinator = new Coordinator({ self: 'a', transport, preferenceList: () => ['a'] });
export async function write(): Promise<string> {
  try {
    const result = await coordinator.put('k', new Uint8Array([1]));
    return result.version.dot.actor;
  } catch (error) {
    return error instanceof QuorumNotMetError ? \`\${error.answered}/\${error.required}\` : 'other';
  }
}
`;

let installed: InstalledPackage | undefined;
let project: string;

beforeAll(async () => {
  installed = await packAndInstall(packageDir, { build: true });
  project = installed.projectDir;
}, 120_000);

afterAll(() => installed?.remove());

describe('the published package', () => {
  it('exports only built files: every target of the exports map is under dist/ and exists', () => {
    // publishConfig replaced the source-condition exports; nothing points at src/.
    const manifest = JSON.parse(
      readFileSync(join(project, 'node_modules/@sysdesign/quorum/package.json'), 'utf8'),
    );
    const targets = JSON.stringify(manifest.exports).match(/"\.\/[^"]+"/g) ?? [];
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) {
      const path = target.slice(1, -1);
      expect(path.startsWith('./dist/')).toBe(true);
      expect(() => readFileSync(join(project, 'node_modules/@sysdesign/quorum', path))).not.toThrow();
    }
    expect(JSON.stringify(manifest.exports)).not.toContain('@sysdesign/source');
    expect(manifest.dependencies ?? {}).toEqual({});
    const shipped = readdirSync(join(project, 'node_modules/@sysdesign/quorum'));
    expect(shipped.sort()).toEqual(['LICENSE', 'README.md', 'dist', 'package.json']);
  });

  it('runs from plain node with no export conditions', () => {
    // A three-node cluster, concurrent writes, a context round trip and a short simulation.
    writeFileSync(join(project, 'consumer.mjs'), CONSUMER_JS);
    const output = execFileSync(process.execPath, ['consumer.mjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(output)).toEqual({
      siblings: ['three', 'two'],
      contextRoundTrips: true,
      empty: 0,
      simulationOk: true,
    });
  });

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    // NodeNext resolution, strict: the .d.ts files must describe the public API completely.
    writeFileSync(join(project, 'consumer.ts'), CONSUMER_TS);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          skipDefaultLibCheck: true,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const result = (() => {
      try {
        return execFileSync(process.execPath, [tscBin, '-p', project], { cwd: project, encoding: 'utf8' });
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? error);
      }
    })();
    expect(result).toBe('');
  });
});
