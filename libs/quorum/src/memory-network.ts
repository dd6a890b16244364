import type { Clock } from './clock.js';
import { assert, QuorumError, QuorumErrorCode } from './errors.js';
import { Random } from './random.js';
import type {
  NodeId,
  PeerHandler,
  PeerRequest,
  PeerResponse,
  RequestOptions,
  Transport,
} from './transport.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './wire.js';

/**
 * An in-memory network for tests and the simulation: every node registers a handler, gets a
 * `Transport`, and talks to the others through delays, drops, duplicates, partitions and crashes
 * drawn from a seeded `Random` on an injected clock (a `VirtualClock` makes a run deterministic).
 *
 * The failure model is the pessimistic one: a message to a crashed or partitioned node vanishes
 * and the sender learns nothing until its timeout. Only an unknown node id fails fast (connection
 * refused). By default every message goes through the JSON wire codec, as it would over HTTP, so
 * no object is shared between nodes and the codec is exercised on every hop.
 */

export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

export interface NetworkFaults {
  /** One-way delay of each message, uniform in [minMs, maxMs]. */
  latency: LatencyRange;
  /** Probability that a message (request or response) is lost. */
  dropRate: number;
  /** Probability that a request is delivered twice (the second answer is ignored). */
  duplicateRate: number;
}

export interface MemoryNetworkOptions extends Partial<NetworkFaults> {
  clock: Clock;
  random?: Random;
  /** Round-trip every message through the JSON wire codec (default true). */
  serialize?: boolean;
}

export interface NetworkStats {
  requests: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  timedOut: number;
  refused: number;
  /** JSON bytes of delivered requests and responses (0 when `serialize` is off). */
  bytes: number;
}

const DEFAULT_LATENCY: LatencyRange = { minMs: 1, maxMs: 5 };

interface PendingRequest {
  fail(error: Error): void;
}

type Outcome = { ok: true; response: PeerResponse } | { ok: false; error: Error };

export class MemoryNetwork {
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly serialize: boolean;
  private currentFaults: NetworkFaults;
  private readonly handlers = new Map<NodeId, PeerHandler>();
  private readonly down = new Set<NodeId>();
  /** Bumped on every crash: messages addressed to an earlier epoch of a node are lost with it. */
  private readonly epochs = new Map<NodeId, number>();
  private readonly pending = new Map<NodeId, Set<PendingRequest>>();
  private readonly groupOf = new Map<NodeId, number>();
  private readonly cuts = new Set<string>();
  private readonly counters: NetworkStats = {
    requests: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    timedOut: 0,
    refused: 0,
    bytes: 0,
  };

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock;
    this.random = options.random ?? new Random(1);
    this.serialize = options.serialize ?? true;
    this.currentFaults = { latency: DEFAULT_LATENCY, dropRate: 0, duplicateRate: 0 };
    this.setFaults({
      latency: options.latency,
      dropRate: options.dropRate,
      duplicateRate: options.duplicateRate,
    });
  }

  /** Changes latency, drop and duplicate rates from now on (messages in flight keep theirs). */
  setFaults(faults: { [Fault in keyof NetworkFaults]?: NetworkFaults[Fault] | undefined }): void {
    const next: NetworkFaults = { ...this.currentFaults, ...definedOnly(faults) };
    assert(next.latency.minMs >= 0 && next.latency.maxMs >= next.latency.minMs, 'latency range');
    assert(next.dropRate >= 0 && next.dropRate <= 1, 'dropRate in [0, 1]');
    assert(next.duplicateRate >= 0 && next.duplicateRate <= 1, 'duplicateRate in [0, 1]');
    this.currentFaults = next;
  }

  get faults(): NetworkFaults {
    return { ...this.currentFaults };
  }

  register(node: NodeId, handler: PeerHandler): void {
    this.handlers.set(node, handler);
  }

  unregister(node: NodeId): void {
    this.handlers.delete(node);
  }

  /** The transport `node` sends with. */
  transport(node: NodeId): Transport {
    return { request: (to, request, options) => this.request(node, to, request, options) };
  }

  /**
   * The node stops: messages to it vanish, its answers in flight are lost, and every request it is
   * still waiting for fails at once (its process is gone). Its registered handler stays, so
   * `restart` brings it back with whatever state the handler's owner kept.
   */
  crash(node: NodeId): void {
    this.down.add(node);
    this.epochs.set(node, this.epochOf(node) + 1);
    const pending = this.pending.get(node);
    this.pending.delete(node);
    for (const request of pending ?? []) {
      request.fail(new QuorumError(QuorumErrorCode.UNREACHABLE, `${node} crashed`));
    }
  }

  restart(node: NodeId): void {
    this.down.delete(node);
  }

  isUp(node: NodeId): boolean {
    return this.handlers.has(node) && !this.down.has(node);
  }

  /**
   * Splits the listed nodes into groups that cannot reach each other. Nodes not listed keep
   * reaching everyone. Replaces any earlier partition.
   */
  partition(...groups: NodeId[][]): void {
    this.groupOf.clear();
    groups.forEach((group, index) => {
      for (const node of group) this.groupOf.set(node, index);
    });
  }

  /** Loses every message from `from` to `to` (one direction only) until `heal`. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}\u0000${to}`);
  }

  /** Removes every partition and cut. */
  heal(): void {
    this.groupOf.clear();
    this.cuts.clear();
  }

  canReach(from: NodeId, to: NodeId): boolean {
    if (this.cuts.has(`${from}\u0000${to}`)) return false;
    const groupFrom = this.groupOf.get(from);
    const groupTo = this.groupOf.get(to);
    return groupFrom === undefined || groupTo === undefined || groupFrom === groupTo;
  }

  get stats(): NetworkStats {
    return { ...this.counters };
  }

  private request(
    from: NodeId,
    to: NodeId,
    request: PeerRequest,
    options: RequestOptions,
  ): Promise<PeerResponse> {
    this.counters.requests++;
    if (this.down.has(from)) {
      return Promise.reject(new QuorumError(QuorumErrorCode.UNREACHABLE, `${from} is down`));
    }
    return new Promise<PeerResponse>((resolve, reject) => {
      let settled = false;
      const pendingSet = this.pendingFor(from);
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        pendingSet.delete(pending);
        if (outcome.ok) resolve(outcome.response);
        else reject(outcome.error);
      };
      const pending: PendingRequest = { fail: (error) => finish({ ok: false, error }) };
      pendingSet.add(pending);
      const timer = this.clock.setTimer(options.timeoutMs, () => {
        if (!settled) this.counters.timedOut++;
        finish({
          ok: false,
          error: new QuorumError(
            QuorumErrorCode.TIMEOUT,
            `${to} did not answer within ${options.timeoutMs} ms`,
          ),
        });
      });
      const payload = this.serialize ? JSON.stringify(encodeRequest(request)) : request;
      this.deliver(from, to, payload, finish);
      if (this.random.chance(this.currentFaults.duplicateRate)) {
        this.counters.duplicated++;
        this.deliver(from, to, payload, finish);
      }
    });
  }

  private deliver(
    from: NodeId,
    to: NodeId,
    payload: string | PeerRequest,
    onOutcome: (outcome: Outcome) => void,
  ): void {
    const handler = this.handlers.get(to);
    const senderEpoch = this.epochOf(from);
    if (handler === undefined) {
      this.counters.refused++;
      this.after(() => {
        if (this.epochOf(from) === senderEpoch) {
          onOutcome({ ok: false, error: new QuorumError(QuorumErrorCode.UNREACHABLE, `unknown node ${to}`) });
        }
      });
      return;
    }
    if (this.lost(from, to)) return;
    const receiverEpoch = this.epochOf(to);
    this.after(() => {
      if (this.down.has(to) || this.epochOf(to) !== receiverEpoch || !this.canReach(from, to)) {
        this.counters.dropped++;
        return;
      }
      this.counters.delivered++;
      let handled: Promise<PeerResponse>;
      try {
        let request = payload as PeerRequest;
        if (typeof payload === 'string') {
          this.counters.bytes += payload.length;
          request = decodeRequest(JSON.parse(payload));
        }
        handled = handler(request, from);
      } catch (error) {
        // A message the receiver cannot decode is answered with the error, as an HTTP 400 would be.
        handled = Promise.reject(error);
      }
      handled.then(
        (response) => this.reply(from, to, receiverEpoch, senderEpoch, { ok: true, response }, onOutcome),
        (error: unknown) =>
          this.reply(
            from,
            to,
            receiverEpoch,
            senderEpoch,
            { ok: false, error: remoteError(to, error) },
            onOutcome,
          ),
      );
    });
  }

  private reply(
    from: NodeId,
    to: NodeId,
    receiverEpoch: number,
    senderEpoch: number,
    outcome: Outcome,
    onOutcome: (outcome: Outcome) => void,
  ): void {
    // A node that crashed while handling the request applied it (maybe) but never answers.
    if (this.down.has(to) || this.epochOf(to) !== receiverEpoch) return;
    if (this.lost(to, from)) return;
    let delivered = outcome;
    if (outcome.ok && this.serialize) {
      const json = JSON.stringify(encodeResponse(outcome.response));
      this.counters.bytes += json.length;
      delivered = { ok: true, response: decodeResponse(JSON.parse(json)) };
    }
    this.after(() => {
      if (this.down.has(from) || this.epochOf(from) !== senderEpoch || !this.canReach(to, from)) {
        this.counters.dropped++;
        return;
      }
      onOutcome(delivered);
    });
  }

  private lost(from: NodeId, to: NodeId): boolean {
    if (!this.canReach(from, to) || this.random.chance(this.currentFaults.dropRate)) {
      this.counters.dropped++;
      return true;
    }
    return false;
  }

  private after(callback: () => void): void {
    const { minMs, maxMs } = this.currentFaults.latency;
    const delayMs = minMs + this.random.next() * (maxMs - minMs);
    this.clock.setTimer(delayMs, callback);
  }

  private epochOf(node: NodeId): number {
    return this.epochs.get(node) ?? 0;
  }

  private pendingFor(node: NodeId): Set<PendingRequest> {
    let pending = this.pending.get(node);
    if (pending === undefined) {
      pending = new Set();
      this.pending.set(node, pending);
    }
    return pending;
  }
}

/** What the sender sees of a handler's failure: the code survives, as it would in a problem+json body. */
function remoteError(node: NodeId, error: unknown): Error {
  if (error instanceof QuorumError) return new QuorumError(error.code, error.message);
  const message = error instanceof Error ? error.message : String(error);
  return new QuorumError(QuorumErrorCode.REMOTE, `${node} failed: ${message}`);
}

function definedOnly<T extends object>(value: T): { [Key in keyof T]?: Exclude<T[Key], undefined> } {
  const result: { [Key in keyof T]?: Exclude<T[Key], undefined> } = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== undefined) (result as Record<string, unknown>)[key] = field;
  }
  return result;
}
