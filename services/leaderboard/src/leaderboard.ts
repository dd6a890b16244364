import { createHash } from 'node:crypto';
import type { ScoredMember, SqlQueryable } from '@sysdesign/platform';
import type { Limiter } from '@sysdesign/redis-limiters';
import {
  applyOperator,
  type Board,
  type BoardSpec,
  checkPartitioning,
  resolveBounds,
} from './domain/board.js';
import { type Cron, parseCron } from './domain/cron.js';
import { TieBreakEncoding } from './domain/encoding.js';
import {
  BoardExistsError,
  BoardNotFoundError,
  BoardsFullError,
  IdempotencyConflictError,
  IncrementTooLargeError,
  PlayerNotRankedError,
  PlayerRateLimitedError,
} from './domain/errors.js';
import { KeyedQueue } from './domain/keyed-queue.js';
import { nextPeriodStart, periodStartOf } from './domain/schedule.js';
import type { BoardStore, EntryRow, PeriodRow, ReplayedEntry } from './store/board-store.js';
import { HashPartitionedIndex, type ShardSketch } from './store/partitions.js';
import type { BoardView, EntryMeta, ScoreIndex } from './store/score-index.js';

/**
 * The leaderboard: every accepted score is appended to Postgres (the log, the source of truth)
 * and applied to the index in one transaction that holds the player's entry row lock, so one
 * player's updates reach the index in the order the log holds them, whichever instance takes
 * them. Reads come from the index alone: ranks and pages from the sorted sets, display names from
 * the metadata kept beside them, dense ranks from the distinct-score set; no read touches SQL.
 */

export interface Submission {
  player: string;
  value: number;
  displayName?: string | undefined;
  subScore?: number | undefined;
}

export interface SubmitResult {
  player: string;
  score: number;
  /** False when the submission left the score as it was (a `best` that did not beat it). */
  changed: boolean;
}

export interface RankedEntry {
  player: string;
  score: number;
  rank: number;
  displayName: string | null;
  subScore: number | null;
}

export interface PlayerStanding extends RankedEntry {
  reachedAtMs: number;
  percentile: number;
  players: number;
}

export interface LeaderboardObserver {
  accepted(board: string, count: number): void;
  refused(reason: 'increment' | 'rate' | 'range'): void;
  /** The per-player limiter did not answer; the submission was admitted (fail open). */
  limiterUnavailable(error: unknown): void;
  rebuilt(board: string, players: number, ms: number): void;
}

export interface ApproximateStanding {
  player: string;
  score: number;
  /** 1-based estimated position, and the bracket the true position was in when the sketches were taken. */
  rank: number;
  rankMin: number;
  rankMax: number;
  players: number;
  /** How old the per-shard sketches are (0 on boards answered exactly). */
  sketchAgeMs: number;
  exact: boolean;
}

export interface LeaderboardOptions {
  store: BoardStore;
  index: ScoreIndex;
  boardsMax: number;
  incrementMax: number;
  rebuildChunk: number;
  /** Buckets per shard of a hash-partitioned board's rank sketch (error <= players / buckets per other shard). */
  sketchBuckets: number;
  /** A sketch older than this is taken again by the next approximate read. */
  sketchMaxAgeMs: number;
  /** Per player and board; absent: not limited. */
  limiter?: Limiter | undefined;
  observer?: LeaderboardObserver | undefined;
  nowMs: () => number;
}

const UNIQUE_VIOLATION = '23505';

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url');
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown })?.code === UNIQUE_VIOLATION;
}

export class Leaderboard {
  private readonly boards = new Map<string, Board>();
  private readonly encodings = new Map<string, TieBreakEncoding>();
  private readonly players = new KeyedQueue();
  private readonly crons = new Map<string, Cron>();
  /** Per board, the period the clock was last seen in: [start, next) needs no schedule search. */
  private readonly windows = new Map<string, { startMs: number; nextMs: number }>();
  /** Per hash-partitioned board, the last per-shard sketches (or the one being taken). */
  private readonly sketches = new Map<
    string,
    { periodStartMs: number; takenAtMs: number; sketches: Promise<ShardSketch[]> }
  >();

  constructor(private readonly options: LeaderboardOptions) {}

  async createBoard(spec: BoardSpec): Promise<Board> {
    const nowMs = this.options.nowMs();
    const bounds = resolveBounds(spec, nowMs);
    checkPartitioning(spec.partitioning, new TieBreakEncoding(bounds));
    const cron = spec.cron === undefined ? null : spec.cron;
    const board: Board = {
      ...bounds,
      partitioning: spec.partitioning,
      cron,
      id: spec.id,
      operator: spec.operator,
      ranking: spec.ranking,
      reset: spec.reset,
      timeZone: spec.timeZone,
      createdAtMs: nowMs,
      periodStartMs: nowMs,
    };
    board.periodStartMs = periodStartOf(spec.reset, spec.timeZone, nowMs, nowMs, this.cronOf(board));
    const created = await this.options.store.create(board, this.options.boardsMax);
    if (created === null) throw new BoardsFullError(this.options.boardsMax);
    if (!created) throw new BoardExistsError(spec.id);
    return board;
  }

  encodingOf(board: Board): TieBreakEncoding {
    let encoding = this.encodings.get(board.id);
    if (!encoding) {
      encoding = new TieBreakEncoding(board);
      this.encodings.set(board.id, encoding);
    }
    return encoding;
  }

  private cronOf(board: Pick<Board, 'cron'>): Cron | undefined {
    if (board.cron === null) return undefined;
    let cron = this.crons.get(board.cron);
    if (!cron) {
      cron = parseCron(board.cron);
      if (this.crons.size >= this.options.boardsMax) this.crons.clear();
      this.crons.set(board.cron, cron);
    }
    return cron;
  }

  /**
   * The board with the period the clock is in. When the clock has passed the board's period, the
   * first caller on any instance archives the finished one and drops its index key.
   */
  async board(id: string): Promise<Board> {
    const cached = this.currentBoard(id);
    if (cached) return cached;
    let board = this.boards.get(id);
    if (!board) {
      board = await this.options.store.get(id);
      if (!board) throw new BoardNotFoundError(id);
      if (this.boards.size >= this.options.boardsMax) {
        this.boards.clear();
        this.windows.clear();
      }
      this.boards.set(id, board);
    }
    const nowMs = this.options.nowMs();
    const cron = this.cronOf(board);
    const current = periodStartOf(board.reset, board.timeZone, nowMs, board.createdAtMs, cron);
    this.windows.set(id, {
      startMs: current,
      nextMs: nextPeriodStart(board.reset, board.timeZone, current, cron) ?? Number.POSITIVE_INFINITY,
    });
    if (current <= board.periodStartMs) return board;
    const stored = await this.options.store.get(id);
    if (stored && stored.periodStartMs < current) {
      const endMs = nextPeriodStart(board.reset, board.timeZone, stored.periodStartMs, cron) ?? current;
      const moved = await this.options.store.advancePeriod(
        id,
        stored.periodStartMs,
        current,
        nowMs,
        Math.min(endMs, current),
      );
      if (moved) await this.options.index.of(board, stored.periodStartMs).drop();
    }
    board = { ...board, periodStartMs: current };
    this.boards.set(id, board);
    return board;
  }

  /** The cached board when the clock is still in its cached period; undefined when `board` must look. */
  private currentBoard(id: string): Board | undefined {
    const board = this.boards.get(id);
    const window = this.windows.get(id);
    if (!(board && window) || window.startMs !== board.periodStartMs) return undefined;
    const nowMs = this.options.nowMs();
    return nowMs >= window.startMs && nowMs < window.nextMs ? board : undefined;
  }

  viewOf(board: Board): BoardView {
    return this.options.index.of(board, board.periodStartMs);
  }

  /** Applies submissions in one transaction; the same Idempotency-Key answers the first outcome again. */
  async submit(
    boardId: string,
    submissions: readonly Submission[],
    idempotencyKey?: string,
  ): Promise<{
    results: SubmitResult[];
    replayed: boolean;
  }> {
    const board = await this.board(boardId);
    this.checkSubmissions(board, submissions);
    await this.checkRate(board, submissions);
    const requestHash = idempotencyKey === undefined ? null : hashOf(submissions);
    const keys = submissions.map(({ player }) => `${board.id}\n${player}`);
    return this.players.run(keys, async () => {
      try {
        return await this.submitOnce(board, submissions, idempotencyKey, requestHash);
      } catch (error) {
        // Another request with this key committed first: answer what it recorded.
        if (idempotencyKey !== undefined && isUniqueViolation(error))
          return this.submitOnce(board, submissions, idempotencyKey, requestHash);
        throw error;
      }
    });
  }

  private checkSubmissions(board: Board, submissions: readonly Submission[]): void {
    const encoding = this.encodingOf(board);
    for (const submission of submissions) {
      if (board.operator === 'incr' || board.operator === 'decr') {
        if (!(submission.value >= 0 && submission.value <= this.options.incrementMax)) {
          this.options.observer?.refused('increment');
          throw new IncrementTooLargeError(submission.value, this.options.incrementMax);
        }
      } else if (!encoding.accepts(submission.value)) {
        this.options.observer?.refused('range');
        encoding.checkScore(submission.value);
      }
    }
  }

  private async checkRate(board: Board, submissions: readonly Submission[]): Promise<void> {
    const limiter = this.options.limiter;
    if (!limiter) return;
    const counts = new Map<string, number>();
    for (const { player } of submissions) counts.set(player, (counts.get(player) ?? 0) + 1);
    for (const [player, cost] of counts) {
      let allowed = true;
      let retryAfterMs = 0;
      try {
        ({ allowed, retryAfterMs } = await limiter.limit(`${board.id}:${player}`, { cost }));
      } catch (error) {
        // A slow or lost Redis must not stop scores: the guard fails open, and says so in metrics.
        this.options.observer?.limiterUnavailable(error);
      }
      if (!allowed) {
        this.options.observer?.refused('rate');
        throw new PlayerRateLimitedError(player, retryAfterMs);
      }
    }
  }

  private async submitOnce(
    board: Board,
    submissions: readonly Submission[],
    idempotencyKey: string | undefined,
    requestHash: string | null,
  ): Promise<{ results: SubmitResult[]; replayed: boolean }> {
    const { store } = this.options;
    return store.sql.tx(async (tx) => {
      await store.lockBoard(tx, board.id, 'shared');
      if (idempotencyKey !== undefined) {
        const prior = await store.eventsOfKey(tx, board.id, idempotencyKey);
        if (prior.length > 0) {
          if (prior[0]!.requestHash !== requestHash) throw new IdempotencyConflictError(idempotencyKey);
          return {
            results: prior.map(({ player, score }) => ({ player, score, changed: false })),
            replayed: true,
          };
        }
      }
      // Rows are locked in player order, so two batches over the same players cannot deadlock;
      // the sort is stable, so one player's submissions keep their order.
      const ordered = submissions.map((submission, position) => ({ submission, position }));
      ordered.sort((a, b) =>
        a.submission.player < b.submission.player ? -1 : a.submission.player > b.submission.player ? 1 : 0,
      );
      const results: SubmitResult[] = new Array(submissions.length);
      for (const { submission, position } of ordered) {
        const key =
          idempotencyKey === undefined
            ? null
            : submissions.length === 1
              ? idempotencyKey
              : `${idempotencyKey}#${position}`;
        results[position] = await this.applyOne(tx, board, submission, key, requestHash);
      }
      this.options.observer?.accepted(board.id, submissions.length);
      return { results, replayed: false };
    });
  }

  private async applyOne(
    tx: SqlQueryable,
    board: Board,
    submission: Submission,
    idempotencyKey: string | null,
    requestHash: string | null,
  ): Promise<SubmitResult> {
    const { store } = this.options;
    const encoding = this.encodingOf(board);
    const nowMs = this.options.nowMs();
    const entry = await store.lockEntry(tx, board.id, board.periodStartMs, submission.player);
    const score = applyOperator(board, entry?.score ?? null, submission.value);
    if (!encoding.accepts(score)) this.options.observer?.refused('range');
    encoding.checkScore(score);
    const changed = entry === null || score !== entry.score;
    const reachedAtMs = changed ? nowMs : entry.reachedAtMs;
    const indexScore = encoding.encode(score, reachedAtMs, board.periodStartMs);
    const saved: EntryRow = {
      player: submission.player,
      score,
      reachedAtMs,
      displayName: submission.displayName ?? entry?.displayName ?? null,
      subScore: submission.subScore ?? entry?.subScore ?? null,
    };
    await store.saveEntry(tx, board.id, board.periodStartMs, saved);
    await store.appendEvent(tx, {
      boardId: board.id,
      periodStartMs: board.periodStartMs,
      player: submission.player,
      value: submission.value,
      score,
      reachedAtMs,
      acceptedAtMs: nowMs,
      idempotencyKey,
      requestHash,
    });
    // Inside the transaction, under the row lock: the index sees this player's scores in log order.
    const view = this.viewOf(board);
    if (changed) {
      const previous =
        entry === null ? null : encoding.encode(entry.score, entry.reachedAtMs, board.periodStartMs);
      await view.index.put(submission.player, indexScore, previous);
      if (board.ranking === 'dense')
        await view.moveDistinct(
          entry === null ? null : encoding.offsetOf(entry.score),
          encoding.offsetOf(score),
        );
    }
    if (changed || saved.displayName !== entry?.displayName || saved.subScore !== entry?.subScore) {
      const { displayName, subScore } = saved;
      await view.putMeta([{ player: submission.player, meta: { reachedAtMs, displayName, subScore } }]);
    }
    return { player: submission.player, score, changed };
  }

  /** Ranks for consecutive index entries starting at 0-based position `firstPosition`. */
  private async rankRun(
    board: Board,
    members: readonly ScoredMember[],
    firstPosition: number,
  ): Promise<RankedEntry[]> {
    if (members.length === 0) return [];
    const encoding = this.encodingOf(board);
    const view = this.viewOf(board);
    const scores = members.map(({ score }) => encoding.decodeScore(score));
    const [first, metadata] = await Promise.all([
      board.ranking === 'competition'
        ? this.betterThan(board, scores[0]!)
        : board.ranking === 'dense'
          ? view.distinctAbove(encoding.offsetOf(scores[0]!))
          : firstPosition,
      view.metaOf(members.map(({ member }) => member)),
    ]);
    let rank = first + 1;
    const ranked: RankedEntry[] = [];
    for (let position = 0; position < members.length; position += 1) {
      const score = scores[position]!;
      if (position > 0) {
        const tied = score === scores[position - 1];
        if (board.ranking === 'ordinal') rank += 1;
        else if (board.ranking === 'competition' && !tied) rank = firstPosition + position + 1;
        else if (board.ranking === 'dense' && !tied) rank += 1;
      }
      const player = members[position]!.member;
      const entry = metadata.get(player);
      ranked.push({
        player,
        score,
        rank,
        displayName: entry?.displayName ?? null,
        subScore: entry?.subScore ?? null,
      });
    }
    return ranked;
  }

  /** Players with a strictly better score. */
  private async betterThan(board: Board, score: number): Promise<number> {
    const encoding = this.encodingOf(board);
    return this.viewOf(board).index.countAtLeast(encoding.highestIndexOf(score) + 1);
  }

  /** A page of the board, best first: `offset` is a 0-based position. */
  async top(
    boardId: string,
    offset: number,
    limit: number,
  ): Promise<{ entries: RankedEntry[]; players: number }> {
    const board = await this.board(boardId);
    const { index } = this.viewOf(board);
    const [members, players] = await Promise.all([index.range(offset, offset + limit - 1), index.size()]);
    return { entries: await this.rankRun(board, members, offset), players };
  }

  async standing(boardId: string, player: string): Promise<PlayerStanding> {
    const board = await this.board(boardId);
    const view = this.viewOf(board);
    const { index } = view;
    const encoding = this.encodingOf(board);
    const found = await index.rankOf(player);
    if (!found) throw new PlayerNotRankedError(player);
    const score = encoding.decodeScore(found.score);
    const [players, better, equal, metadata, distinctBetter] = await Promise.all([
      index.size(),
      this.betterThan(board, score),
      index.countBetween(encoding.lowestIndexOf(score), encoding.highestIndexOf(score)),
      view.metaOf([player]),
      board.ranking === 'dense' ? view.distinctAbove(encoding.offsetOf(score)) : 0,
    ]);
    const counts = { position: found.rank, players, better, equal, distinctBetter };
    return standingOf(board, player, score, counts, metadata.get(player));
  }

  /**
   * `standing` without a promise, when the board is cached in its current period and its index is
   * a single set in the twin (the embedded deployment): the same reads, each answered at once.
   * Undefined when it cannot answer so; `standing` then does.
   */
  standingNow(boardId: string, player: string): PlayerStanding | undefined {
    const board = this.currentBoard(boardId);
    const reads = board && this.viewOf(board).now;
    if (!(board && reads)) return undefined;
    const encoding = this.encodingOf(board);
    const found = reads.rankOf(player);
    if (!found) throw new PlayerNotRankedError(player);
    const score = encoding.decodeScore(found.score);
    const counts = {
      position: found.rank,
      players: reads.size(),
      better: reads.countAtLeast(encoding.highestIndexOf(score) + 1),
      equal: reads.countBetween(encoding.lowestIndexOf(score), encoding.highestIndexOf(score)),
      distinctBetter: board.ranking === 'dense' ? reads.distinctAbove(encoding.offsetOf(score)) : 0,
    };
    return standingOf(board, player, score, counts, reads.metaOf(player) ?? undefined);
  }

  /**
   * A player's position on a hash-partitioned board without asking every shard: exact on the
   * player's own shard, estimated on the others from their equi-depth sketches (taken at most
   * `sketchMaxAgeMs` ago, shared by every read of the board), with the bracket the true position
   * was in when they were taken. Other boards answer exactly (rankMin = rankMax).
   */
  async approximateStanding(boardId: string, player: string): Promise<ApproximateStanding> {
    const board = await this.board(boardId);
    const { index } = this.viewOf(board);
    const encoding = this.encodingOf(board);
    if (!(index instanceof HashPartitionedIndex)) {
      const [found, players] = await Promise.all([index.rankOf(player), index.size()]);
      if (!found) throw new PlayerNotRankedError(player);
      const rank = found.rank + 1;
      const score = encoding.decodeScore(found.score);
      return { player, score, rank, rankMin: rank, rankMax: rank, players, sketchAgeMs: 0, exact: true };
    }
    const { sketches, takenAtMs } = await this.sketchOf(board, index);
    const found = await index.approximateRankOf(player, sketches);
    if (!found) throw new PlayerNotRankedError(player);
    return {
      player,
      score: encoding.decodeScore(found.score),
      rank: found.rank + 1,
      rankMin: found.rankMin + 1,
      rankMax: found.rankMax + 1,
      players: sketches.reduce((total, sketch) => total + sketch.size, 0),
      sketchAgeMs: Math.max(0, this.options.nowMs() - takenAtMs),
      exact: false,
    };
  }

  /** The board's sketches, taken again when older than the bound; one taking at a time per board. */
  private async sketchOf(
    board: Board,
    index: HashPartitionedIndex,
  ): Promise<{ sketches: ShardSketch[]; takenAtMs: number }> {
    const nowMs = this.options.nowMs();
    let cached = this.sketches.get(board.id);
    if (
      !cached ||
      cached.periodStartMs !== board.periodStartMs ||
      nowMs - cached.takenAtMs > this.options.sketchMaxAgeMs
    ) {
      if (this.sketches.size >= this.options.boardsMax) this.sketches.clear();
      cached = {
        periodStartMs: board.periodStartMs,
        takenAtMs: nowMs,
        sketches: index.sketch(this.options.sketchBuckets),
      };
      this.sketches.set(board.id, cached);
      // A failed taking is not kept: the next read tries again.
      cached.sketches.catch(() => this.sketches.delete(board.id));
    }
    return { sketches: await cached.sketches, takenAtMs: cached.takenAtMs };
  }

  /** Up to `k` players above and below (fewer at the top and bottom edges), the player included. */
  async around(boardId: string, player: string, k: number): Promise<RankedEntry[]> {
    const board = await this.board(boardId);
    const { index } = this.viewOf(board);
    const found = await index.rankOf(player);
    if (!found) throw new PlayerNotRankedError(player);
    const start = Math.max(0, found.rank - k);
    const members = await index.range(start, found.rank + k);
    return this.rankRun(board, members, start);
  }

  /** The listed players who have a score, best first, with their board rank and their rank among the list. */
  async rankList(
    boardId: string,
    players: readonly string[],
  ): Promise<(RankedEntry & { listRank: number })[]> {
    const board = await this.board(boardId);
    const { index } = this.viewOf(board);
    const unique = [...new Set(players)];
    const found = await Promise.all(unique.map((player) => index.rankOf(player)));
    const present: { member: string; score: number; rank: number }[] = [];
    found.forEach((entry, index) => {
      if (entry) present.push({ member: unique[index]!, score: entry.score, rank: entry.rank });
    });
    present.sort((a, b) => a.rank - b.rank);
    const ranked: (RankedEntry & { listRank: number })[] = [];
    for (const member of present) {
      const [entry] = await this.rankRun(board, [member], member.rank);
      ranked.push({ ...entry!, listRank: 0 });
    }
    // Among the list, the board's ranking mode applies to the list's own order.
    for (let position = 0; position < ranked.length; position += 1) {
      const entry = ranked[position]!;
      const previous = ranked[position - 1];
      const tied = previous !== undefined && previous.score === entry.score;
      if (board.ranking === 'ordinal' || !tied) {
        entry.listRank = board.ranking === 'dense' ? (previous?.listRank ?? 0) + 1 : position + 1;
      } else entry.listRank = previous.listRank;
    }
    return ranked;
  }

  /**
   * Rebuilds the board's current index from the log: the last event of each player, with the
   * metadata of their entry. Submissions wait meanwhile (the board's exclusive lock), so nothing
   * accepted is lost or overwritten; readers keep the live index until the rebuilt one is
   * swapped in whole.
   */
  async rebuild(boardId: string): Promise<{ players: number; ms: number }> {
    const board = await this.board(boardId);
    const { store, rebuildChunk, index } = this.options;
    const building = index.rebuilding(board, board.periodStartMs);
    const startedMs = performance.now();
    const players = await store.sql.tx(async (tx) => {
      await store.lockBoard(tx, board.id, 'exclusive');
      // Left over by a rebuild that died before its swap.
      await building.drop();
      let after = '';
      let count = 0;
      for (;;) {
        const chunk = await store.replayChunk(tx, board.id, board.periodStartMs, after, rebuildChunk);
        if (chunk.length === 0) break;
        await this.loadChunk(board, building, chunk);
        count += chunk.length;
        after = chunk.at(-1)!.player;
      }
      await index.swapIn(board, board.periodStartMs);
      return count;
    });
    const ms = Math.round(performance.now() - startedMs);
    this.options.observer?.rebuilt(board.id, players, ms);
    return { players, ms };
  }

  private async loadChunk(board: Board, building: BoardView, chunk: readonly ReplayedEntry[]): Promise<void> {
    const encoding = this.encodingOf(board);
    await building.index.putMany(
      chunk.map(({ player, score, reachedAtMs }) => ({
        member: player,
        score: encoding.encode(score, reachedAtMs, board.periodStartMs),
      })),
    );
    await building.putMeta(
      chunk.map(({ player, reachedAtMs, displayName, subScore }) => ({
        player,
        meta: { reachedAtMs, displayName, subScore },
      })),
    );
    if (board.ranking !== 'dense') return;
    const counts = new Map<number, number>();
    for (const { score } of chunk) {
      const offset = encoding.offsetOf(score);
      counts.set(offset, (counts.get(offset) ?? 0) + 1);
    }
    await building.addDistinct(counts);
  }

  /** Rebuilds every board whose index holds another number of players than the log (a lost or flushed Redis). */
  async recover(): Promise<string[]> {
    const rebuilt: string[] = [];
    let after = '';
    for (;;) {
      const page = await this.options.store.list(after, 100);
      if (page.length === 0) return rebuilt;
      for (const stored of page) {
        const board = await this.board(stored.id);
        if (!(await this.indexAgrees(board))) {
          await this.rebuild(board.id);
          rebuilt.push(board.id);
        }
      }
      after = page.at(-1)!.id;
    }
  }

  /**
   * Whether the index holds as many players as the log, with the metadata beside it (an index
   * written before metadata was kept there has none) and, on a dense board, its distinct scores.
   */
  private async indexAgrees(board: Board): Promise<boolean> {
    const view = this.viewOf(board);
    const [indexed, logged, best] = await Promise.all([
      view.index.size(),
      this.options.store.countEntries(board.id, board.periodStartMs),
      view.index.range(0, 0),
    ]);
    if (indexed !== logged) return false;
    if (best.length === 0) return true;
    const metadata = await view.metaOf([best[0]!.member]);
    if (!metadata.has(best[0]!.member)) return false;
    return board.ranking !== 'dense' || (await view.distinctAbove(-1)) > 0;
  }

  async periods(boardId: string, limit: number): Promise<PeriodRow[]> {
    const board = await this.board(boardId);
    return this.options.store.periods(board.id, limit);
  }

  /** A finished period's standings from Postgres, or null when no finished period starts there. */
  async standings(
    boardId: string,
    periodStartMs: number,
    offset: number,
    limit: number,
  ): Promise<(EntryRow & { rank: number })[] | null> {
    const board = await this.board(boardId);
    const finished = await this.options.store.periodExists(board.id, periodStartMs);
    if (!finished) return null;
    return this.options.store.standings(board, periodStartMs, offset, limit);
  }

  /** Removes a player from every board, period and index (privacy): their entries and their events. */
  async removePlayer(player: string): Promise<number> {
    const { store, index } = this.options;
    return store.sql.tx(async (tx) => {
      const places = await store.removePlayer(tx, player);
      for (const { boardId, periodStartMs, score } of places) {
        const board = this.boards.get(boardId) ?? (await store.getIn(tx, boardId));
        if (!board) continue;
        const view = index.of(board, periodStartMs);
        await view.index.remove([player]);
        await view.removeMeta([player]);
        if (board.ranking === 'dense') await view.moveDistinct(this.encodingOf(board).offsetOf(score), null);
      }
      return places.length;
    });
  }
}

/** A standing from its counts: 0-based position, players, better and equal scores, distinct better ones. */
function standingOf(
  board: Board,
  player: string,
  score: number,
  counts: { position: number; players: number; better: number; equal: number; distinctBetter: number },
  meta: EntryMeta | undefined,
): PlayerStanding {
  const { players, better, equal } = counts;
  const rank =
    board.ranking === 'ordinal'
      ? counts.position + 1
      : board.ranking === 'competition'
        ? better + 1
        : counts.distinctBetter + 1;
  const below = players - better - equal;
  return {
    player,
    score,
    rank,
    displayName: meta?.displayName ?? null,
    subScore: meta?.subScore ?? null,
    reachedAtMs: meta?.reachedAtMs ?? board.periodStartMs,
    // Percentile rank: the share of players below, with ties counted half.
    percentile: Math.round(((below + equal / 2) / players) * 10_000) / 100,
    players,
  };
}
