import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type ClusterSlot, startLocalCluster } from '../src/index.js';

/** A node that listens on its slot's port, or fails to start when told to. */
class ListeningNode {
  private server: Server | undefined;
  stopped = false;

  constructor(
    readonly slot: ClusterSlot,
    private readonly failStart = false,
  ) {}

  async start(): Promise<void> {
    if (this.failStart) throw new Error(`node ${this.slot.index} cannot start`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.slot.port, '127.0.0.1', resolve);
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('startLocalCluster', () => {
  it('starts every node on its own port and directory, each knowing the others', async () => {
    // Three nodes: distinct ports and directories, and each one's peers are exactly the other two URLs.
    const cluster = await startLocalCluster(3, (slot) => new ListeningNode(slot), {
      dataDirPrefix: 'cluster-',
    });
    try {
      const slots = cluster.nodes.map((node) => node.slot);
      expect(new Set(slots.map((slot) => slot.port)).size).toBe(3);
      expect(new Set(slots.map((slot) => slot.dataDir)).size).toBe(3);
      for (const slot of slots) {
        expect(existsSync(slot.dataDir)).toBe(true);
        expect(slot.url).toBe(`http://127.0.0.1:${slot.port}`);
        expect(slot.peerUrls).toEqual(slots.filter((other) => other !== slot).map((other) => other.url));
      }
    } finally {
      await cluster.stop();
    }
    expect(cluster.nodes.every((node) => node.stopped)).toBe(true);
  });

  it('stops the nodes that started when one fails, and throws its failure', async () => {
    // The second of three cannot start: the call rejects with its error and no node is left running.
    const made: ListeningNode[] = [];
    await expect(
      startLocalCluster(3, (slot) => {
        const node = new ListeningNode(slot, slot.index === 1);
        made.push(node);
        return node;
      }),
    ).rejects.toThrow('node 1 cannot start');
    expect(made.map((node) => node.stopped)).toEqual([true, true, true]);
  });
});
