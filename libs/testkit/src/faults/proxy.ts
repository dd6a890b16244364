import { createConnection, createServer, type Server, type Socket } from 'node:net';

const loopback = '127.0.0.1';

/**
 * Bytes one direction of one connection may hold (delayed by latency or a bandwidth cap) before
 * its source is paused: a slow link pushes back on the sender instead of growing without bound.
 */
const queuedBytesMax = 1024 * 1024;

/**
 * `reset`: every connection, open or new, is torn down with a TCP RST (the peer sees ECONNRESET).
 * `blackhole`: connections stay open and every byte is discarded in both directions, with no FIN
 * and no RST, so only a timeout on the peer notices; the case that finds missing timeouts. On
 * loopback the kernel completes every handshake, so a connection opened during a blackhole is
 * accepted, and the target sees it open and silent.
 */
export type CutMode = 'reset' | 'blackhole';

/** Per chunk delay, each way: `meanMs` plus a uniform draw in [-jitterMs, +jitterMs], never below 0. */
export interface Latency {
  meanMs: number;
  jitterMs?: number | undefined;
}

export interface LinkProxyOptions {
  /** The port on 127.0.0.1 this link forwards to. */
  targetPort: number;
  /** Draws the jitter: pass a seeded generator (`seededRandom`) so a run replays. */
  random: () => number;
}

/** Requests flow client to target, replies target to client, over the same connection. */
type Way = 'requests' | 'replies';

interface FlowPolicy {
  discards(way: Way): boolean;
  /** When a chunk of `bytes` that arrives now, after the previous chunk, may be delivered. */
  deliveryTimeMs(way: Way, bytes: number, flow: FlowClock): number;
}

interface FlowClock {
  /** When the previous chunk has finished going through the bandwidth cap. */
  linkFreeAtMs: number;
}

/**
 * One direction of one proxied connection: holds each chunk until its delivery time and drops it
 * instead when the link discards that way at arrival or at delivery. The queue is first in, first
 * out, so a chunk drawn a shorter delay waits for the ones before it: TCP keeps order.
 */
class Flow {
  private queue: Array<{ deliverAtMs: number; chunk: Buffer }> = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sourceEnded = false;
  private readonly clock: FlowClock = { linkFreeAtMs: 0 };

  constructor(
    private readonly way: Way,
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly policy: FlowPolicy,
  ) {
    source.on('data', (chunk: Buffer) => this.accept(chunk));
    source.on('end', () => {
      this.sourceEnded = true;
      this.deliverDue();
    });
    destination.on('drain', () => this.resumeSourceIfRoom());
  }

  /** After a heal: forwards a FIN the link held back while it discarded this way. */
  resume(): void {
    if (this.queue.length === 0) this.deliverDue();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.queuedBytes = 0;
  }

  private accept(chunk: Buffer): void {
    if (this.policy.discards(this.way)) return;
    const deliverAtMs = this.policy.deliveryTimeMs(this.way, chunk.length, this.clock);
    this.queue.push({ deliverAtMs, chunk });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > queuedBytesMax) this.source.pause();
    this.deliverDue();
  }

  private deliverDue(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    while (this.queue.length > 0 && (this.queue[0]?.deliverAtMs ?? 0) <= now) {
      const { chunk } = this.queue.shift() as { chunk: Buffer };
      this.queuedBytes -= chunk.length;
      if (this.policy.discards(this.way) || this.destination.destroyed) continue;
      if (!this.destination.write(chunk)) this.source.pause();
    }
    this.resumeSourceIfRoom();
    const next = this.queue[0];
    if (next !== undefined) {
      this.timer = setTimeout(() => this.deliverDue(), next.deliverAtMs - now);
      return;
    }
    // A FIN is a byte on the wire too: a link that discards this way does not carry it.
    if (this.sourceEnded && !this.policy.discards(this.way) && !this.destination.destroyed)
      this.destination.end();
  }

  private resumeSourceIfRoom(): void {
    if (this.queuedBytes <= queuedBytesMax && !this.destination.writableNeedDrain) this.source.resume();
  }
}

/** A client's socket paired with the proxy's socket to the target. */
class ProxiedConnection {
  private readonly flows: Flow[];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    policy: FlowPolicy & { blackholed(): boolean },
    onClosed: (connection: ProxiedConnection) => void,
  ) {
    this.flows = [
      new Flow('requests', client, upstream, policy),
      new Flow('replies', upstream, client, policy),
    ];
    let closedSockets = 0;
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', () => {
        if (!policy.blackholed()) peer.resetAndDestroy();
      });
      socket.on('close', () => {
        // Under a blackhole the peer must not learn that this side went away.
        if (!policy.blackholed()) peer.destroy();
        closedSockets += 1;
        if (closedSockets === 2) {
          this.stopFlows();
          onClosed(this);
        }
      });
    }
  }

  /**
   * After a heal: a FIN the cut held back reaches the other side, as TCP would retransmit it, and
   * a side that went away meanwhile takes its peer with it.
   */
  resume(): void {
    if (this.client.destroyed || this.upstream.destroyed) {
      this.destroy();
      return;
    }
    for (const flow of this.flows) flow.resume();
  }

  reset(): void {
    this.stopFlows();
    this.client.resetAndDestroy();
    this.upstream.resetAndDestroy();
  }

  destroy(): void {
    this.stopFlows();
    this.client.destroy();
    this.upstream.destroy();
  }

  private stopFlows(): void {
    for (const flow of this.flows) flow.stop();
  }
}

/**
 * One directed link on loopback: listens on 127.0.0.1 at a free port and forwards each connection
 * to `127.0.0.1:targetPort`, with faults that can be set and healed at any time. Latency and the
 * bandwidth cap apply to each way of each connection; one-way drops discard a single way.
 * Discarded bytes are gone (a real partition would hold and retransmit them), so a connection
 * that lived through a cut carries a broken stream: clients are expected to time out and reconnect.
 */
export class LinkProxy {
  private cutMode: CutMode | undefined;
  private droppedWays = new Set<Way>();
  private latencyFault: Latency | undefined;
  private bytesPerSecondFault: number | undefined;
  private readonly connections = new Set<ProxiedConnection>();
  private readonly policy: FlowPolicy & { blackholed(): boolean };

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
    private readonly random: () => number,
  ) {
    this.policy = {
      discards: (way) => this.cutMode === 'blackhole' || this.droppedWays.has(way),
      deliveryTimeMs: (_way, bytes, clock) => this.deliveryTimeMs(bytes, clock),
      blackholed: () => this.cutMode === 'blackhole',
    };
    server.on('connection', (client) => this.accept(client));
  }

  static async start(options: LinkProxyOptions): Promise<LinkProxy> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, loopback, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the link proxy has no TCP port');
    return new LinkProxy(server, address.port, options.targetPort, options.random);
  }

  /** Connections currently proxied (each holds two sockets). */
  get connectionCount(): number {
    return this.connections.size;
  }

  cut(mode: CutMode): void {
    this.cutMode = mode;
    if (mode === 'reset') for (const connection of this.connections) connection.reset();
  }

  /** Discards every byte from client to target; replies still flow. */
  dropRequests(): void {
    this.droppedWays.add('requests');
  }

  /** Discards every byte from target to client; requests still arrive. */
  dropReplies(): void {
    this.droppedWays.add('replies');
  }

  latency(latency: Latency): void {
    if (latency.meanMs < 0 || (latency.jitterMs ?? 0) < 0)
      throw new RangeError('latency must not be negative');
    this.latencyFault = latency;
  }

  bandwidth(bytesPerSecond: number): void {
    if (!(bytesPerSecond > 0))
      throw new RangeError('bandwidth must be a positive number of bytes per second');
    this.bytesPerSecondFault = bytesPerSecond;
  }

  /**
   * Clears every fault. Bytes discarded meanwhile stay lost and connections reset stay closed, but
   * a close the cut hid now reaches the other side.
   */
  heal(): void {
    this.cutMode = undefined;
    this.droppedWays.clear();
    this.latencyFault = undefined;
    this.bytesPerSecondFault = undefined;
    for (const connection of this.connections) connection.resume();
  }

  /** Destroys every proxied socket and the listening server. */
  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.cutMode === 'reset') {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: loopback, port: this.targetPort });
    // Latency is the fault's to add: Nagle's algorithm must not hold small chunks back.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const connection = new ProxiedConnection(client, upstream, this.policy, (closed) =>
      this.connections.delete(closed),
    );
    this.connections.add(connection);
    client.resume();
  }

  private deliveryTimeMs(bytes: number, clock: FlowClock): number {
    const now = Date.now();
    let sentAtMs = now;
    if (this.bytesPerSecondFault !== undefined) {
      sentAtMs = Math.max(now, clock.linkFreeAtMs) + (bytes * 1000) / this.bytesPerSecondFault;
      clock.linkFreeAtMs = sentAtMs;
    }
    return sentAtMs + this.latencyDrawMs();
  }

  private latencyDrawMs(): number {
    if (this.latencyFault === undefined) return 0;
    const { meanMs, jitterMs = 0 } = this.latencyFault;
    return Math.max(0, meanMs + (this.random() * 2 - 1) * jitterMs);
  }
}
