import type { ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { KvNode } from '../node.js';

const share = z
  .object({
    primary: z.number().describe('Fraction of keys this node owns (is the first replica of)'),
    replica: z.number().describe('Fraction of keys this node holds a replica of'),
  })
  .nullable();

const clusterResponse = z.object({
  self: z.object({
    id: z.string().describe('NODE_ID'),
    url: z.string().describe("ADVERTISE_URL: the node's identity on the ring"),
    incarnation: z.number().describe('Raised on every restart; vector-clock actors are url#incarnation'),
  }),
  replication: z.object({
    n: z.number(),
    w: z.number().describe('Default W'),
    r: z.number().describe('Default R'),
    sloppyQuorum: z.boolean(),
    hintedHandoff: z.boolean(),
    readRepair: z.boolean(),
    antiEntropyIntervalMs: z.number(),
  }),
  members: z.array(
    z.object({
      url: z.string(),
      id: z.string().nullable().describe('Its NODE_ID, once it has talked to this node'),
      state: z.enum(['alive', 'suspect', 'dead', 'unknown']).describe("This node's failure detector's view"),
      incarnation: z.number(),
      heartbeat: z.number(),
      lastHeardMsAgo: z.number().nullable(),
      onRing: z.boolean(),
      ownership: share,
    }),
  ),
  ring: z.object({
    vnodes: z.number().describe('Virtual nodes per node'),
    nodes: z.number(),
    replicaGroups: z.number().describe('Distinct replica sets: one Merkle tree each'),
  }),
  hints: z.object({ keys: z.number(), bytes: z.number() }),
});

export function registerClusterRoutes(app: ServiceApp, node: KvNode, config: Config): void {
  const settings = {
    ...node.settings.replication,
    sloppyQuorum: config.SLOPPY_QUORUM,
    hintedHandoff: config.HINTED_HANDOFF,
    readRepair: config.READ_REPAIR,
    antiEntropyIntervalMs: config.ANTI_ENTROPY_INTERVAL_MS,
  };
  app.get(
    '/v1/cluster',
    {
      schema: {
        summary: 'Cluster membership as this node sees it',
        description:
          'Every member with its gossip state (alive, suspect, dead) and heartbeat, its share of the ring, ' +
          "and this node's id, incarnation and replication settings.",
        response: { 200: clusterResponse },
      },
    },
    async () => {
      const hints = node.hints.stats();
      return {
        self: { id: node.settings.nodeId, url: node.url, incarnation: node.incarnation },
        replication: settings,
        members: node.members().map((member) => ({
          url: member.url,
          id: member.id ?? null,
          state: member.state,
          incarnation: member.incarnation,
          heartbeat: member.heartbeat,
          lastHeardMsAgo: member.lastHeardMsAgo ?? null,
          onRing: member.onRing,
          ownership: member.share ?? null,
        })),
        ring: { vnodes: node.ring.vnodes, nodes: node.ring.size, replicaGroups: node.ring.groups().length },
        hints: { keys: hints.entries, bytes: hints.bytes },
      };
    },
  );
}
