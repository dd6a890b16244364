import {
  Coordinator,
  type HealthView,
  type HintLimits,
  MemoryHintStore,
  MemoryReplicaStore,
  QuorumError,
  Replica,
} from '../src/index.js';
import { MemoryNetwork, Random, VirtualClock } from '../src/testing.js';

export const bytes = (text: string) => new TextEncoder().encode(text);
export const text = (value: Uint8Array) => new TextDecoder().decode(value);

export interface TestClusterOptions {
  nodes?: number;
  n?: number;
  r?: number;
  w?: number;
  sloppy?: boolean;
  timeoutMs?: number;
  seed?: number;
  latency?: { minMs: number; maxMs: number };
  hintLimits?: Partial<HintLimits>;
  maxConcurrentReadRepairs?: number;
}

/**
 * Replicas and coordinators on a `MemoryNetwork`, without gossip: the health view is a set the
 * test controls (`markDown`), so a test can make the failure detector right or wrong on purpose.
 * Every key has the same preference list, `node-a, node-b, node-c, ...`: replicas are the first N.
 */
export function createTestCluster(options: TestClusterOptions = {}) {
  const clock = new VirtualClock(1_000_000);
  const network = new MemoryNetwork({
    clock,
    random: new Random(options.seed ?? 1),
    latency: options.latency ?? { minMs: 1, maxMs: 1 },
  });
  const ids = Array.from(
    { length: options.nodes ?? 4 },
    (_, index) => `node-${String.fromCharCode(97 + index)}`,
  );
  const believedDown = new Set<string>();
  const health: HealthView = { isAlive: (node) => !believedDown.has(node) };
  const stores = new Map<string, MemoryReplicaStore>();
  const hints = new Map<string, MemoryHintStore>();
  const replicas = new Map<string, Replica>();
  const coordinators = new Map<string, Coordinator>();
  for (const id of ids) {
    const store = new MemoryReplicaStore();
    const hintStore = new MemoryHintStore(options.hintLimits);
    const replica = new Replica({ self: id, incarnation: 1, store, hints: hintStore, clock });
    network.register(id, (request) => replica.handle(request));
    stores.set(id, store);
    hints.set(id, hintStore);
    replicas.set(id, replica);
    coordinators.set(
      id,
      new Coordinator({
        self: id,
        transport: network.transport(id),
        preferenceList: () => ids,
        local: (request) => replica.handle(request),
        health,
        clock,
        n: options.n ?? 3,
        r: options.r ?? 2,
        w: options.w ?? 2,
        sloppy: options.sloppy ?? true,
        timeoutMs: options.timeoutMs ?? 100,
        ...(options.maxConcurrentReadRepairs === undefined
          ? {}
          : { maxConcurrentReadRepairs: options.maxConcurrentReadRepairs }),
      }),
    );
  }
  return {
    clock,
    network,
    ids,
    health,
    store: (id: string) => stores.get(id)!,
    hints: (id: string) => hints.get(id)!,
    replica: (id: string) => replicas.get(id)!,
    coordinator: (id: string) => coordinators.get(id)!,
    /** Drives the virtual clock until `promise` settles. */
    run: <T>(promise: Promise<T>) => clock.run(promise),
    /** The node stops answering (messages to it are lost); the health view still thinks it is up. */
    crash: (id: string) => network.crash(id),
    restart: (id: string) => network.restart(id),
    /** The failure detector now says the node is down (or up again). */
    markDown: (id: string) => believedDown.add(id),
    markUp: (id: string) => believedDown.delete(id),
    /** Live values stored on a node's own store (not hints), sorted. */
    valuesOn: (id: string, key: string) =>
      stores
        .get(id)!
        .peek(key)
        .filter((version) => version.value !== null)
        .map((version) => text(version.value!))
        .sort(),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<QuorumError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QuorumError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}
