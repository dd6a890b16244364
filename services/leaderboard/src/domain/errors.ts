/** The leaderboard's refusals, as typed errors; `errors.ts` maps each to a problem. */

export class BoardNotFoundError extends Error {
  constructor(readonly boardId: string) {
    super(`board ${JSON.stringify(boardId)} does not exist`);
  }
}

export class BoardExistsError extends Error {
  constructor(readonly boardId: string) {
    super(`board ${JSON.stringify(boardId)} already exists`);
  }
}

export class BoardsFullError extends Error {
  constructor(readonly boardsMax: number) {
    super(`this deployment holds its maximum of ${boardsMax} boards`);
  }
}

export class PlayerNotRankedError extends Error {
  constructor(readonly player: string) {
    super(`player ${JSON.stringify(player)} has no score on this board in this period`);
  }
}

export class IncrementTooLargeError extends Error {
  constructor(
    readonly value: number,
    readonly incrementMax: number,
  ) {
    super(`an increment of ${value} is outside [0, ${incrementMax}]`);
  }
}

export class PlayerRateLimitedError extends Error {
  constructor(
    readonly player: string,
    readonly retryAfterMs: number,
  ) {
    super(`player ${JSON.stringify(player)} submits too often; retry in ${retryAfterMs} ms`);
  }
}

export class IdempotencyConflictError extends Error {
  constructor(readonly key: string) {
    super(`Idempotency-Key ${JSON.stringify(key)} was used with a different request`);
  }
}

export class BadCursorError extends Error {
  constructor() {
    super('the cursor is not one this board issued');
  }
}

export class PeriodNotFoundError extends Error {
  constructor(readonly periodStartMs: number) {
    super(`no finished period starts at ${periodStartMs}`);
  }
}
