import {
  type HintStore,
  isQuorumError,
  type NodeId,
  type PeerRequest,
  type PeerResponse,
  QuorumErrorCode,
  type RequestOptions,
  reconcile,
  type Transport,
} from '@sysdesign/quorum';

/**
 * Coordinator-side hints, as in Cassandra: when the coordinator's write (or read repair) to a
 * replica fails because the replica is down or does not answer, the coordinator keeps the versions
 * as a hint for that replica, and hinted handoff delivers them when it is back.
 *
 * The library's sloppy quorum already hands a down replica's writes to a fallback node further
 * round the ring, but only when the ring has one: in a three-node cluster with N = 3 every node is
 * a replica of every key, so there is no fallback, and a replica that missed writes would wait for
 * anti-entropy. These hints fill that gap. They never count towards W (a write still needs W
 * replicas), so they cost no consistency; they only shorten the time a returning replica is stale.
 *
 * Only the coordinator's transport is wrapped: anti-entropy and hand-off failures are not hinted
 * (hand-off would re-hint its own hints forever).
 */

export interface CoordinatorHintsEvents {
  onHinted?: (replica: NodeId, keys: number) => void;
  onRefused?: (replica: NodeId, error: unknown) => void;
}

export class HintingTransport implements Transport {
  private readonly inner: Transport;
  private readonly hints: HintStore;
  private readonly now: () => number;
  private readonly events: CoordinatorHintsEvents;

  constructor(inner: Transport, hints: HintStore, now: () => number, events: CoordinatorHintsEvents = {}) {
    this.inner = inner;
    this.hints = hints;
    this.now = now;
    this.events = events;
  }

  async request(to: NodeId, message: PeerRequest, options: RequestOptions): Promise<PeerResponse> {
    try {
      return await this.inner.request(to, message, options);
    } catch (error) {
      // A store with `hintFor` went to a fallback, which is not owed anything itself.
      if (message.type === 'store' && message.hintFor === undefined && isMissedDelivery(error)) {
        await this.remember(to, message.items);
      }
      throw error;
    }
  }

  private async remember(
    replica: NodeId,
    items: Extract<PeerRequest, { type: 'store' }>['items'],
  ): Promise<void> {
    try {
      for (const item of items) {
        await this.hints.update(
          replica,
          item.key,
          (current) => reconcile(current, item.versions),
          this.now(),
        );
      }
      this.events.onHinted?.(replica, items.length);
    } catch (error) {
      // A full hint store (or a failing disk) costs only the hint: anti-entropy still repairs the replica.
      this.events.onRefused?.(replica, error);
    }
  }
}

/** The replica may not have the write: it could not be reached, or did not answer in time. */
function isMissedDelivery(error: unknown): boolean {
  return isQuorumError(error, QuorumErrorCode.UNREACHABLE) || isQuorumError(error, QuorumErrorCode.TIMEOUT);
}
