import { type Clock, systemClock } from './clock.js';
import { checkContext } from './context.js';
import {
  assert,
  InvalidOptionError,
  QuorumError,
  QuorumErrorCode,
  QuorumNotMetError,
  type QuorumOperation,
  type ReplicaFailure,
} from './errors.js';
import {
  allAlive,
  expectResponse,
  type HealthView,
  type NodeId,
  type PeerHandler,
  type PeerRequest,
  type PeerResponse,
  type ResponseOf,
  type Transport,
} from './transport.js';
import { utf8Length } from './utf8.js';
import { EMPTY_CLOCK, type VectorClock } from './vector-clock.js';
import { contextOf, digestVersions, fullClock, liveValues, reconcile, type Version } from './version.js';

/**
 * The coordinator: any node runs `get`/`put`/`delete` for any key, Dynamo style.
 *
 * Targets. The first N nodes of the key's preference list are its replicas. With sloppy quorum
 * (the default), a replica the health view says is down is replaced by the next healthy node
 * further down the list, which stores the write as a hint for it; a replica that fails during the
 * request is replaced the same way while time remains. With strict quorum, only the N replicas
 * count, up or not.
 *
 * Write. One target (this node when it is one) mints the version: it stamps it with its own dot
 * over the client's context and answers with the key's resulting sibling set, which is then sent
 * to the other targets. The write succeeds once W targets hold it (the minter counts). Requests
 * still in flight when the call returns keep going; they are bounded by the same deadline.
 *
 * Read. All N targets are asked; the read succeeds with R answers, reconciled: concurrent
 * versions come back as siblings. Once every target has answered (or the deadline passed), targets
 * that sent a stale set get the reconciled one: read repair, asynchronous and bounded.
 */

export const DEFAULT_N = 3;
export const DEFAULT_R = 2;
export const DEFAULT_W = 2;
export const DEFAULT_TIMEOUT_MS = 1000;
/** Most replicas per key: a bound on fan-out. */
export const MAX_N = 16;
export const DEFAULT_MAX_CONCURRENT_READ_REPAIRS = 64;
export const DEFAULT_MAX_KEY_BYTES = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

export interface CoordinatorOptions {
  self: NodeId;
  transport: Transport;
  /**
   * The nodes for a key in preference order, distinct: the first N are its replicas, the rest are
   * fallbacks for sloppy quorum (return the whole ring walk, or at least N + a few). The kv-store
   * plugs its consistent-hashing ring in here.
   */
  preferenceList: (key: string) => readonly NodeId[];
  /** Requests addressed to `self` go here instead of the transport (the local replica). */
  local?: PeerHandler;
  health?: HealthView;
  clock?: Clock;
  n?: number;
  r?: number;
  w?: number;
  timeoutMs?: number;
  sloppy?: boolean;
  readRepair?: boolean;
  maxConcurrentReadRepairs?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
}

/** Per-request overrides of N, R, W and the deadline. */
export interface RequestSettings {
  n?: number;
  r?: number;
  w?: number;
  timeoutMs?: number;
}

export interface WriteResult {
  /** The version this write created (a tombstone for a delete). */
  version: Version;
  /** The context to send with the next write on top of this one. */
  context: VectorClock;
  /** Nodes that stored the write before the call returned (at least W). */
  acknowledgedBy: NodeId[];
  /** How many of those were fallbacks holding it as a hint. */
  hinted: number;
}

export interface ReadResult {
  key: string;
  /** True when at least one live (non-tombstone) version exists. */
  found: boolean;
  /** Values of the live siblings: one when there is no conflict, several when writes were concurrent. */
  values: Uint8Array[];
  /** Every reconciled version, tombstones included. */
  versions: Version[];
  /** Send this back with the next write to supersede everything read here. */
  context: VectorClock;
  /** Nodes whose answers were reconciled (at least R). */
  answeredBy: NodeId[];
}

export interface CoordinatorStats {
  gets: number;
  puts: number;
  deletes: number;
  quorumFailures: number;
  hintedWrites: number;
  readRepairs: number;
  readRepairsSkipped: number;
  readRepairFailures: number;
}

interface Target {
  node: NodeId;
  /** The preferred replica this fallback stands in for. */
  hintFor?: NodeId;
}

/** One write's state, shared by its mint and replicate steps. */
interface WriteInFlight {
  operation: QuorumOperation;
  key: string;
  settings: Settings;
  targets: Target[];
  spares: NodeId[];
  deadline: number;
  failures: ReplicaFailure[];
}

interface Settings {
  n: number;
  r: number;
  w: number;
  timeoutMs: number;
}

export class Coordinator {
  private readonly self: NodeId;
  private readonly transport: Transport;
  private readonly preferenceList: (key: string) => readonly NodeId[];
  private readonly local: PeerHandler | undefined;
  private readonly health: HealthView;
  private readonly clock: Clock;
  private readonly defaults: Settings;
  private readonly sloppy: boolean;
  private readonly readRepair: boolean;
  private readonly maxConcurrentReadRepairs: number;
  private readonly maxKeyBytes: number;
  private readonly maxValueBytes: number;
  private writeSequence = 0;
  private repairsInFlight = 0;
  private readonly counters: CoordinatorStats = {
    gets: 0,
    puts: 0,
    deletes: 0,
    quorumFailures: 0,
    hintedWrites: 0,
    readRepairs: 0,
    readRepairsSkipped: 0,
    readRepairFailures: 0,
  };

  constructor(options: CoordinatorOptions) {
    this.self = options.self;
    this.transport = options.transport;
    this.preferenceList = options.preferenceList;
    this.local = options.local;
    this.health = options.health ?? allAlive;
    this.clock = options.clock ?? systemClock;
    this.sloppy = options.sloppy ?? true;
    this.readRepair = options.readRepair ?? true;
    this.maxConcurrentReadRepairs = options.maxConcurrentReadRepairs ?? DEFAULT_MAX_CONCURRENT_READ_REPAIRS;
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
    this.maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.defaults = normalizeSettings(
      {
        n: options.n ?? DEFAULT_N,
        r: options.r ?? DEFAULT_R,
        w: options.w ?? DEFAULT_W,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      },
      {},
    );
  }

  stats(): CoordinatorStats {
    return { ...this.counters };
  }

  /**
   * Writes `value` on top of `context` (from an earlier read; empty or absent for a blind write,
   * which becomes a sibling of whatever exists). Resolves once W replicas hold it; rejects with
   * `QuorumNotMetError` saying how many did.
   */
  async put(
    key: string,
    value: Uint8Array,
    context: VectorClock = EMPTY_CLOCK,
    settings: RequestSettings = {},
  ): Promise<WriteResult> {
    this.checkKey(key);
    if (!(value instanceof Uint8Array)) throw new InvalidOptionError('value', 'must be a Uint8Array');
    if (value.byteLength > this.maxValueBytes) {
      throw new InvalidOptionError('value', `is ${value.byteLength} bytes, more than ${this.maxValueBytes}`);
    }
    const clock = checkContext(context);
    this.counters.puts++;
    // Copied so a caller reusing its buffer cannot change a stored version.
    return this.write('put', key, value.slice(), clock, normalizeSettings(this.defaults, settings));
  }

  /**
   * Deletes what `context` covers by writing a tombstone. Without a context it first reads the key
   * (with R) and deletes what that read saw; a blind tombstone would delete nothing.
   */
  async delete(key: string, context?: VectorClock, settings: RequestSettings = {}): Promise<WriteResult> {
    this.checkKey(key);
    let covered = context === undefined ? undefined : checkContext(context);
    this.counters.deletes++;
    const normalized = normalizeSettings(this.defaults, settings);
    if (covered === undefined) {
      const startedMs = this.clock.now();
      try {
        covered = (await this.get(key, normalized)).context;
      } catch (error) {
        if (!(error instanceof QuorumNotMetError)) throw error;
        const { required, answered, contacted, failures, timeoutMs } = error;
        throw new QuorumNotMetError('delete', key, required, answered, contacted, failures, timeoutMs);
      }
      normalized.timeoutMs = Math.max(1, normalized.timeoutMs - (this.clock.now() - startedMs));
    }
    return this.write('delete', key, null, covered, normalized);
  }

  /** Reads the key from R replicas; rejects with `QuorumNotMetError` when fewer answer in time. */
  async get(key: string, settings: RequestSettings = {}): Promise<ReadResult> {
    this.checkKey(key);
    this.counters.gets++;
    const normalized = normalizeSettings(this.defaults, settings);
    const { targets, spares } = this.targets(key, normalized.n);
    const deadline = this.clock.now() + normalized.timeoutMs;
    const answers: Array<{ target: Target; versions: Version[] }> = [];
    const failures: ReplicaFailure[] = [];
    const waitingFor = new Set<NodeId>();
    let settled = false;
    let outstanding = targets.length;

    return new Promise<ReadResult>((resolve, reject) => {
      const timer = this.clock.setTimer(normalized.timeoutMs, () => fail());
      const fail = () => {
        if (settled) return;
        settled = true;
        timer.cancel();
        this.counters.quorumFailures++;
        const all = [...failures, ...silent(waitingFor, normalized.timeoutMs)];
        reject(
          new QuorumNotMetError(
            'get',
            key,
            normalized.r,
            answers.length,
            targets.length,
            all,
            normalized.timeoutMs,
          ),
        );
      };
      // A throw inside a callback below (a bug, or a version no reconcile can read) must reject the
      // caller's promise, not escape as an unhandled rejection that kills the host process.
      const abort = (error: unknown) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        reject(error);
      };
      const finishedOne = () => {
        outstanding--;
        if (outstanding === 0) this.repair(key, answers);
      };
      const ask = (target: Target) => {
        waitingFor.add(target.node);
        this.request(target.node, { type: 'read', key }, deadline, 'versions')
          .then(
            (response) => {
              waitingFor.delete(target.node);
              answers.push({ target, versions: response.versions });
              if (!settled && answers.length >= normalized.r) {
                // Reconciled before `settled` is set, so a throw here still reaches `abort`.
                const result = readResult(key, answers);
                settled = true;
                timer.cancel();
                resolve(result);
              }
              finishedOne();
            },
            (error: unknown) => {
              waitingFor.delete(target.node);
              failures.push({ node: target.node, reason: reasonOf(error) });
              const spare = this.spareFor(target, spares, deadline);
              if (spare !== undefined) return ask(spare);
              if (!settled && answers.length + outstanding - 1 < normalized.r) fail();
              finishedOne();
            },
          )
          .catch(abort);
      };
      if (targets.length < normalized.r) fail();
      for (const target of targets) ask(target);
    });
  }

  private async write(
    operation: QuorumOperation,
    key: string,
    value: Uint8Array | null,
    context: VectorClock,
    settings: Settings,
  ): Promise<WriteResult> {
    const { targets, spares } = this.targets(key, settings.n);
    const write: WriteInFlight = {
      operation,
      key,
      settings,
      targets,
      spares,
      deadline: this.clock.now() + settings.timeoutMs,
      failures: [],
    };
    const minted = await this.mint(write, value, context);
    if (minted === undefined) throw this.notMet(write, 0);
    return this.replicate(write, minted.minter, minted.response);
  }

  /** Step 1: this node when it is a target, else the first target that answers, mints the version. */
  private async mint(
    write: WriteInFlight,
    value: Uint8Array | null,
    context: VectorClock,
  ): Promise<{ minter: Target; response: ResponseOf<'minted'> } | undefined> {
    const writeId = `${this.self}/${this.clock.now()}/${++this.writeSequence}`;
    const self = this.self;
    const candidates = [...write.targets].sort((a, b) => Number(b.node === self) - Number(a.node === self));
    for (const candidate of candidates) {
      if (this.clock.now() >= write.deadline) return undefined;
      const request: PeerRequest = {
        type: 'mint',
        key: write.key,
        value,
        context,
        writeId,
        ...hintField(candidate),
      };
      try {
        return {
          minter: candidate,
          response: await this.request(candidate.node, request, write.deadline, 'minted'),
        };
      } catch (error) {
        write.failures.push({ node: candidate.node, reason: reasonOf(error) });
        if (REFUSALS_OF_THE_WRITE.some((code) => isQuorumErrorWith(error, code))) throw error;
      }
    }
    return undefined;
  }

  /** Step 2: the minter's sibling set goes to the other targets; resolves once W hold it. */
  private replicate(
    write: WriteInFlight,
    minter: Target,
    minted: ResponseOf<'minted'>,
  ): Promise<WriteResult> {
    const { key, settings, deadline, failures } = write;
    const acknowledgedBy: Target[] = [minter];
    const others = write.targets.filter((target) => target !== minter);
    if (minter.hintFor !== undefined) this.counters.hintedWrites++;
    const result = (): WriteResult => ({
      version: minted.version,
      context: fullClock(minted.version),
      acknowledgedBy: acknowledgedBy.map((target) => target.node),
      hinted: acknowledgedBy.filter((target) => target.hintFor !== undefined).length,
    });
    return new Promise<WriteResult>((resolve, reject) => {
      let settled = false;
      let outstanding = others.length;
      const waitingFor = new Set<NodeId>();
      const timer = this.clock.setTimer(deadline - this.clock.now(), () => settle(false));
      const settle = (ok: boolean) => {
        if (settled) return;
        // Built before `settled` is set, so a throw here still reaches `abort`.
        const value = ok ? result() : undefined;
        settled = true;
        timer.cancel();
        if (value !== undefined) return resolve(value);
        failures.push(...silent(waitingFor, settings.timeoutMs));
        reject(this.notMet(write, acknowledgedBy.length));
      };
      const abort = (error: unknown) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        reject(error);
      };
      const send = (target: Target) => {
        const request: PeerRequest = {
          type: 'store',
          items: [{ key, versions: minted.siblings }],
          ...hintField(target),
        };
        waitingFor.add(target.node);
        this.request(target.node, request, deadline, 'stored')
          .then(storedWhole)
          .then(
            () => {
              waitingFor.delete(target.node);
              if (settled) return;
              acknowledgedBy.push(target);
              if (target.hintFor !== undefined) this.counters.hintedWrites++;
              if (acknowledgedBy.length >= settings.w) settle(true);
            },
            (error: unknown) => {
              waitingFor.delete(target.node);
              if (settled) return;
              failures.push({ node: target.node, reason: reasonOf(error) });
              const spare = this.spareFor(target, write.spares, deadline);
              if (spare !== undefined) return send(spare);
              outstanding--;
              if (acknowledgedBy.length + outstanding < settings.w) settle(false);
            },
          )
          .catch(abort);
      };
      if (acknowledgedBy.length >= settings.w) settle(true);
      for (const target of others) send(target);
    });
  }

  private notMet(write: WriteInFlight, answered: number): QuorumNotMetError {
    this.counters.quorumFailures++;
    const { operation, key, settings, targets, failures } = write;
    return new QuorumNotMetError(
      operation,
      key,
      settings.w,
      answered,
      targets.length,
      failures,
      settings.timeoutMs,
    );
  }

  /** The N targets of a key (fallbacks standing in for replicas believed down) and spare fallbacks. */
  private targets(key: string, n: number): { targets: Target[]; spares: NodeId[] } {
    const list = this.preferenceList(key);
    assert(new Set(list).size === list.length, `preferenceList('${key}') named a node twice`);
    const preferred = list.slice(0, n);
    if (!this.sloppy) return { targets: preferred.map((node) => ({ node })), spares: [] };
    const spares = list.slice(n).filter((node) => this.health.isAlive(node));
    const targets = preferred.map((node): Target => {
      if (this.health.isAlive(node)) return { node };
      const fallback = spares.shift();
      return fallback === undefined ? { node } : { node: fallback, hintFor: node };
    });
    return { targets, spares };
  }

  /** With sloppy quorum and time left, the next fallback takes over a failed target's replica. */
  private spareFor(failed: Target, spares: NodeId[], deadline: number): Target | undefined {
    if (!this.sloppy || spares.length === 0 || this.clock.now() >= deadline) return undefined;
    return { node: spares.shift()!, hintFor: failed.hintFor ?? failed.node };
  }

  private repair(key: string, answers: ReadonlyArray<{ target: Target; versions: Version[] }>): void {
    if (!this.readRepair || answers.length < 2) return;
    const merged = reconcile(...answers.map((answer) => answer.versions));
    const digest = digestVersions(merged);
    for (const { target, versions } of answers) {
      if (digestVersions(reconcile(versions)) === digest) continue;
      if (this.repairsInFlight >= this.maxConcurrentReadRepairs) {
        this.counters.readRepairsSkipped++;
        continue;
      }
      this.repairsInFlight++;
      this.counters.readRepairs++;
      const request: PeerRequest = {
        type: 'store',
        items: [{ key, versions: merged }],
        ...hintField(target),
      };
      this.request(target.node, request, this.clock.now() + this.defaults.timeoutMs, 'stored')
        .then(storedWhole)
        .catch(() => {
          this.counters.readRepairFailures++;
        })
        .finally(() => {
          this.repairsInFlight--;
        });
    }
  }

  private async request<T extends PeerResponse['type']>(
    node: NodeId,
    request: PeerRequest,
    deadline: number,
    expected: T,
  ): Promise<ResponseOf<T>> {
    const timeoutMs = Math.max(1, deadline - this.clock.now());
    const response =
      node === this.self && this.local !== undefined
        ? await withTimeout(this.clock, this.local(request, this.self), timeoutMs, node)
        : await this.transport.request(node, request, { timeoutMs });
    return expectResponse(response, expected);
  }

  private checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidOptionError('key', 'must be a non-empty string');
    if (utf8Length(key) > this.maxKeyBytes) {
      throw new InvalidOptionError('key', `must be at most ${this.maxKeyBytes} bytes`);
    }
  }
}

/**
 * A minter's refusals that are about the write itself, not the minter: another target would refuse
 * it too (the siblings are the same everywhere), or the context is forged. Anything else, the next
 * target tries (a minter whose counters are exhausted, a timeout...).
 */
const REFUSALS_OF_THE_WRITE: readonly QuorumErrorCode[] = [
  QuorumErrorCode.TOO_MANY_SIBLINGS,
  QuorumErrorCode.SIBLINGS_TOO_LARGE,
  QuorumErrorCode.INVALID_CONTEXT,
];

/** A replica that left out a version it was sent (a forged claim about it) did not store the write. */
function storedWhole(response: ResponseOf<'stored'>): void {
  if (response.count < 1) {
    throw new QuorumError(
      QuorumErrorCode.REMOTE,
      'refused the version: it claims a counter of that replica it never issued',
    );
  }
}

function readResult(
  key: string,
  answers: ReadonlyArray<{ target: Target; versions: Version[] }>,
): ReadResult {
  const versions = reconcile(...answers.map((answer) => answer.versions));
  const values = liveValues(versions);
  return {
    key,
    found: values.length > 0,
    values,
    versions,
    context: contextOf(versions),
    answeredBy: answers.map((answer) => answer.target.node),
  };
}

function normalizeSettings(defaults: Settings, overrides: RequestSettings): Settings {
  const settings = { ...defaults, ...definedSettings(overrides) };
  const { n, r, w, timeoutMs } = settings;
  if (!Number.isInteger(n) || n < 1 || n > MAX_N)
    throw new InvalidOptionError('n', `must be an integer in [1, ${MAX_N}], got ${n}`);
  if (!Number.isInteger(r) || r < 1 || r > n)
    throw new InvalidOptionError('r', `must be an integer in [1, n=${n}], got ${r}`);
  if (!Number.isInteger(w) || w < 1 || w > n)
    throw new InvalidOptionError('w', `must be an integer in [1, n=${n}], got ${w}`);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidOptionError('timeoutMs', `must be a positive number, got ${timeoutMs}`);
  }
  return settings;
}

function definedSettings(overrides: RequestSettings): Partial<Settings> {
  const defined: Partial<Settings> = {};
  if (overrides.n !== undefined) defined.n = overrides.n;
  if (overrides.r !== undefined) defined.r = overrides.r;
  if (overrides.w !== undefined) defined.w = overrides.w;
  if (overrides.timeoutMs !== undefined) defined.timeoutMs = overrides.timeoutMs;
  return defined;
}

/** Targets still silent when the deadline passed, as failures. */
function silent(waitingFor: ReadonlySet<NodeId>, timeoutMs: number): ReplicaFailure[] {
  return [...waitingFor].map((node) => ({ node, reason: `no answer within ${timeoutMs} ms` }));
}

function hintField(target: Target): { hintFor?: NodeId } {
  return target.hintFor === undefined ? {} : { hintFor: target.hintFor };
}

function reasonOf(error: unknown): string {
  if (error instanceof QuorumError)
    return error.code === QuorumErrorCode.TIMEOUT ? 'timed out' : error.message;
  return error instanceof Error ? error.message : String(error);
}

function isQuorumErrorWith(error: unknown, code: QuorumErrorCode): boolean {
  return error instanceof QuorumError && error.code === code;
}

function withTimeout<T>(clock: Clock, promise: Promise<T>, timeoutMs: number, node: NodeId): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(timeoutMs, () =>
      reject(
        new QuorumError(QuorumErrorCode.TIMEOUT, `${node} (local) did not answer within ${timeoutMs} ms`),
      ),
    );
    promise.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (error: unknown) => {
        timer.cancel();
        reject(error);
      },
    );
  });
}
