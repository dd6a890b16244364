import { QuorumError, QuorumErrorCode } from './errors.js';
import type { VectorClock } from './vector-clock.js';
import type { Version } from './version.js';

/**
 * The peer protocol and the one interface a transport implements. The library never opens a
 * socket: a service supplies a `Transport` (the kv-store: HTTP POST of `encodeRequest(request)` to
 * `${to}/internal/v1/peer` with undici), and routes what arrives to `QuorumNode.handle`.
 */

/** A node's identity and address in one string; the kv-store uses its base URL. */
export type NodeId = string;

export interface KeyVersions {
  key: string;
  versions: Version[];
}

export interface LeafEntry {
  key: string;
  digest: number;
}

/** One node's heartbeat state as gossip carries it. */
export interface MemberDigest {
  node: NodeId;
  /** Raised on every restart (a persisted generation, or the start time): restarts outrank old state. */
  incarnation: number;
  /** Raised by the node itself every gossip round. */
  heartbeat: number;
}

export type PeerRequest =
  /** The replica's versions of a key (hinted ones included when it holds hints for it). */
  | { type: 'read'; key: string }
  /**
   * Mint a new version at this replica (the write's coordinating replica): stamp it with the
   * replica's next dot, store it, answer with it and the key's resulting sibling set.
   * `writeId` makes a duplicated delivery answer with the version minted the first time.
   */
  | {
      type: 'mint';
      key: string;
      value: Uint8Array | null;
      context: VectorClock;
      writeId: string;
      hintFor?: NodeId;
    }
  /** Merge versions into the replica's store, or into its hint store for `hintFor`. */
  | { type: 'store'; items: KeyVersions[]; hintFor?: NodeId }
  /** Merkle hashes at `level` (root = 0) of the tree of `range`, at heap `indexes` of that level. */
  | { type: 'merkle-hashes'; range: string; depth: number; level: number; indexes: number[] }
  /** (key, digest) pairs in the given leaves of the tree of `range`, at most `maxKeys`. */
  | { type: 'merkle-leaves'; range: string; depth: number; leaves: number[]; maxKeys: number }
  /** The versions of `keys`, up to about `maxBytes`; tombstones past their grace period left out. */
  | { type: 'fetch'; keys: string[]; maxBytes: number }
  /** Push-pull gossip: the sender's membership table; the answer is the receiver's. */
  | { type: 'gossip'; from: NodeId; members: MemberDigest[] };

export type PeerResponse =
  | { type: 'versions'; versions: Version[] }
  | { type: 'minted'; version: Version; siblings: Version[] }
  | { type: 'stored'; count: number }
  | { type: 'hashes'; hashes: number[] }
  | { type: 'leaf-entries'; entries: LeafEntry[]; truncated: boolean }
  | { type: 'fetched'; items: KeyVersions[]; skippedTombstones: number; truncated: boolean }
  | { type: 'gossip'; members: MemberDigest[] };

export type PeerRequestType = PeerRequest['type'];
export type PeerResponseType = PeerResponse['type'];
export type ResponseOf<T extends PeerResponseType> = Extract<PeerResponse, { type: T }>;

export interface RequestOptions {
  /** Give up after this long; the transport rejects with a `QUORUM_ERR_TIMEOUT` QuorumError. */
  timeoutMs: number;
}

/**
 * Sends one request to one peer and resolves with its response. Rejects when the peer cannot be
 * reached, answers with an error, or takes longer than `timeoutMs`; the rejection reason is only
 * reported, never parsed, so any Error will do (a `QuorumError` gives better messages).
 */
export interface Transport {
  request(to: NodeId, request: PeerRequest, options: RequestOptions): Promise<PeerResponse>;
}

/** What the receiving side runs for each request (`QuorumNode.handle`). Throw to answer with an error. */
export type PeerHandler = (request: PeerRequest, from: NodeId) => Promise<PeerResponse>;

/** Which nodes are believed up: the gossip failure detector, or a static view in tests. */
export interface HealthView {
  isAlive(node: NodeId): boolean;
}

export const allAlive: HealthView = { isAlive: () => true };

/** A response narrowed to the type the request calls for; a peer answering anything else is faulty. */
export function expectResponse<T extends PeerResponseType>(response: PeerResponse, type: T): ResponseOf<T> {
  if (response.type !== type) {
    throw new QuorumError(QuorumErrorCode.REMOTE, `expected a '${type}' response, got '${response.type}'`);
  }
  return response as ResponseOf<T>;
}
