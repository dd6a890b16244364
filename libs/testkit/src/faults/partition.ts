import { type CutMode, LinkProxy } from './proxy.js';

export interface NetworkOptions {
  /** Each node's name and the port on 127.0.0.1 where it listens. */
  nodes: Record<string, number>;
  /** Draws latency jitter on every link: pass a seeded generator so a run replays. */
  random: () => number;
}

/** Two halves that cannot see each other, and the one node that sees both. */
export interface BridgeLayout {
  bridge: string;
  halves: [string[], string[]];
}

/**
 * Named nodes joined by one `LinkProxy` per ordered pair: `from` reaches `to` only through
 * `addressFor(from, to)`, so every fault lands on a real TCP connection. The layouts (`partition`,
 * `isolate`, `majorityMinority`, `bridge`, `ring`) heal everything first, so each call describes
 * the whole network; `oneWay` adds to whatever is in place. A cut between two nodes cuts both
 * links between them, as a blackhole unless told otherwise.
 */
export class Network {
  private constructor(
    readonly nodes: readonly string[],
    private readonly links: Map<string, LinkProxy>,
  ) {}

  static async start(options: NetworkOptions): Promise<Network> {
    const nodes = Object.keys(options.nodes);
    const links = new Map<string, LinkProxy>();
    try {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue;
          const targetPort = options.nodes[to] as number;
          links.set(linkKey(from, to), await LinkProxy.start({ targetPort, random: options.random }));
        }
      }
    } catch (error) {
      await Promise.all([...links.values()].map((link) => link.close()));
      throw error;
    }
    return new Network(nodes, links);
  }

  /** The directed link `from` uses to reach `to`, for faults finer than the layouts below. */
  link(from: string, to: string): LinkProxy {
    const link = this.links.get(linkKey(from, to));
    if (link === undefined) throw new Error(`no link from ${from} to ${to} in this network`);
    return link;
  }

  /** The port on 127.0.0.1 that `from` must connect to in order to reach `to`. */
  addressFor(from: string, to: string): number {
    return this.link(from, to).port;
  }

  /**
   * Nodes in different groups cannot reach each other; nodes within a group can. A node named in
   * no group keeps every link.
   */
  partition(groups: string[][], mode: CutMode = 'blackhole'): void {
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => {
      for (const node of group) {
        this.assertNode(node);
        if (groupOf.has(node)) throw new Error(`node ${node} is in two groups`);
        groupOf.set(node, index);
      }
    });
    this.connectOnly((from, to) => {
      const fromGroup = groupOf.get(from);
      const toGroup = groupOf.get(to);
      return fromGroup === undefined || toGroup === undefined || fromGroup === toGroup;
    }, mode);
  }

  /** `node` reaches no one and no one reaches it. */
  isolate(node: string, mode: CutMode = 'blackhole'): void {
    this.assertNode(node);
    this.partition([[node], this.nodes.filter((other) => other !== node)], mode);
  }

  /** A random majority and the minority, cut apart; returns them, majority first. */
  majorityMinority(random: () => number, mode: CutMode = 'blackhole'): [string[], string[]] {
    const shuffled = shuffle(this.nodes, random);
    const majoritySize = Math.floor(shuffled.length / 2) + 1;
    const groups: [string[], string[]] = [shuffled.slice(0, majoritySize), shuffled.slice(majoritySize)];
    this.partition(groups, mode);
    return groups;
  }

  /**
   * Two halves cut apart, except the node between them that still reaches both (Jepsen's bridge):
   * the nodes in random order, or in their given order without `random`.
   */
  bridge(random?: (() => number) | undefined, mode: CutMode = 'blackhole'): BridgeLayout {
    if (this.nodes.length < 3) throw new Error('a bridge needs at least three nodes');
    const shuffled = this.ordered(random);
    const middle = Math.floor(shuffled.length / 2);
    const bridge = shuffled[middle] as string;
    const halves: [string[], string[]] = [shuffled.slice(0, middle), shuffled.slice(middle + 1)];
    this.connectOnly(
      (from, to) => from === bridge || to === bridge || halves[0].includes(from) === halves[0].includes(to),
      mode,
    );
    return { bridge, halves };
  }

  /**
   * The nodes in a ring (random order, or their given order without `random`), each reaching only its nearest neighbours on both sides, as many
   * as make a majority with itself: every node sees a majority, no two the same one (Jepsen's
   * majorities ring). Returns the ring order.
   */
  ring(random?: (() => number) | undefined, mode: CutMode = 'blackhole'): string[] {
    const order = this.ordered(random);
    const size = order.length;
    const reach = Math.ceil(Math.floor(size / 2) / 2);
    this.connectOnly((from, to) => {
      const distance = Math.abs(order.indexOf(from) - order.indexOf(to));
      return Math.min(distance, size - distance) <= reach;
    }, mode);
    return order;
  }

  /** Every byte from `from` to `to` is dropped, on the connections either of them opened. */
  oneWay(from: string, to: string): void {
    this.link(from, to).dropRequests();
    this.link(to, from).dropReplies();
  }

  heal(): void {
    for (const link of this.links.values()) link.heal();
  }

  /** Closes every link: all proxied sockets and listening servers. */
  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }

  /** Heals every link, then cuts each directed link whose ends may not talk. */
  private connectOnly(mayTalk: (from: string, to: string) => boolean, mode: CutMode): void {
    this.heal();
    for (const from of this.nodes) {
      for (const to of this.nodes) {
        if (from !== to && !mayTalk(from, to)) this.link(from, to).cut(mode);
      }
    }
  }

  private ordered(random: (() => number) | undefined): string[] {
    return random === undefined ? [...this.nodes] : shuffle(this.nodes, random);
  }

  private assertNode(node: string): void {
    if (!this.nodes.includes(node)) throw new Error(`no node named ${node} in this network`);
  }
}

function linkKey(from: string, to: string): string {
  return `${from}->${to}`;
}

/** Fisher-Yates over a copy, driven by `random` so a seed replays the layout. */
function shuffle(items: readonly string[], random: () => number): string[] {
  const shuffled = [...items];
  for (let index = shuffled.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [shuffled[index], shuffled[other]] = [shuffled[other] as string, shuffled[index] as string];
  }
  return shuffled;
}
