import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const CONSUMER_JS = `
import { Coordinator, EMPTY_CLOCK, MemoryReplicaStore, Replica, decodeContext, encodeContext } from '@sysdesign/quorum';
import { MemoryNetwork, Random, VirtualClock, simulate } from '@sysdesign/quorum/testing';
import { decodeRequest, encodeRequest } from '@sysdesign/quorum/wire';

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
const wire = decodeRequest(JSON.parse(JSON.stringify(encodeRequest({ type: 'read', key: 'k' }))));
console.log(JSON.stringify({
  siblings: read.values.map(text).sort(),
  contextRoundTrips: JSON.stringify(decodeContext(context)) === JSON.stringify(read.context),
  empty: EMPTY_CLOCK.length,
  simulationOk: report.ok,
  wire,
}));
`;

const CONSUMER_TS = `
import { type PeerRequest, type PeerResponse, type Transport, Coordinator, Loop, QuorumNotMetError } from '@sysdesign/quorum';
import { VirtualClock, type SimulationOptions } from '@sysdesign/quorum/testing';
import { encodeRequest, type WireMessage } from '@sysdesign/quorum/wire';

const transport: Transport = {
  async request(to: string, request: PeerRequest, options: { timeoutMs: number }): Promise<PeerResponse> {
    throw new Error(\`no network: \${to} \${request.type} \${options.timeoutMs}\`);
  },
};
const clock = new VirtualClock(0, { stallTimeoutMs: 0 });
const coordinator = new Coordinator({ self: 'a', transport, preferenceList: () => ['a'], clock });
const loop = new Loop({ clock, intervalMs: 10, task: async () => {}, onError: () => {} });
const options: SimulationOptions = { seed: 1 };
const message: WireMessage = encodeRequest({ type: 'read', key: 'k' });
export async function write(): Promise<string> {
  await loop.stop();
  try {
    const result = await coordinator.put('k', new Uint8Array([1]));
    return result.version.dot.actor + String(options.seed) + Object.keys(message).length;
  } catch (error) {
    return error instanceof QuorumNotMetError ? \`\${error.answered}/\${error.required}\` : error instanceof Error ? error.name : 'other';
  }
}
`;

let project: InstalledPackage;

beforeAll(async () => {
  project = await packAndInstall(packageDir);
}, PACK_TIMEOUT_MS);

afterAll(() => project?.remove());

describe('the published package', () => {
  it('ships dist (JavaScript and declarations only), README, LICENSE and the manifest', () => {
    const extra = project.packedFiles.filter(
      (file) => !/^(dist\/[\w/-]+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(file),
    );
    expect(extra).toEqual([]);
    expect(project.packedFiles).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'dist/index.js']));
  });

  it('points every export, types entry and typesVersions path at a shipped file under dist/', () => {
    const manifest = JSON.parse(readFileSync(join(project.installedDir, 'package.json'), 'utf8'));
    expect(JSON.stringify(manifest.exports)).not.toContain('@sysdesign/source');
    expect(Object.keys(manifest.exports)).toEqual(['.', './testing', './wire', './package.json']);
    const targets = [
      ...(JSON.stringify([manifest.exports, manifest.typesVersions]).match(/"\.\/dist\/[^"]+"/g) ?? []),
      `"${manifest.main}"`,
      `"${manifest.types}"`,
    ].map((target) => target.slice(1, -1));
    for (const target of targets) expect(project.packedFiles).toContain(target.replace(/^\.\//, ''));
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it(
    'runs from plain node with no export conditions, root and subpaths',
    async () => {
      // A three-node cluster, concurrent writes, a context round trip, a short simulation, a wire codec.
      expect(JSON.parse(await runNode(project, CONSUMER_JS))).toEqual({
        siblings: ['three', 'two'],
        contextRoundTrips: true,
        empty: 0,
        simulationOk: true,
        wire: { type: 'read', key: 'k' },
      });
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );

  it.each(RESOLUTIONS)(
    'typechecks a strict consumer of the root and every subpath under %s resolution',
    async (resolution) => {
      expect(await typecheckConsumer(project, resolution, CONSUMER_TS)).toBe('');
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );
});
