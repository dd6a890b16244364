/** The feed's expected failures: each maps to one problem+json type in ../errors.ts. */

export class BadCursorError extends Error {
  override name = 'BadCursorError';
}

export class UserNotFoundError extends Error {
  override name = 'UserNotFoundError';
  constructor(readonly userId: string) {
    super(`user ${JSON.stringify(userId)} does not exist`);
  }
}

/** The caller has a token but never registered (POST /v1/users). */
export class NotRegisteredError extends Error {
  override name = 'NotRegisteredError';
  constructor(readonly userId: string) {
    super(`user ${JSON.stringify(userId)} has not registered: POST /v1/users first`);
  }
}

export class PostNotFoundError extends Error {
  override name = 'PostNotFoundError';
  constructor(readonly postId: string) {
    super(`post ${postId} does not exist`);
  }
}

export class NotPostAuthorError extends Error {
  override name = 'NotPostAuthorError';
  constructor(readonly postId: string) {
    super(`only the author may delete post ${postId}`);
  }
}

export class SelfRelationError extends Error {
  override name = 'SelfRelationError';
  constructor(readonly relation: string) {
    super(`a user cannot ${relation} themselves`);
  }
}

export class FollowingLimitError extends Error {
  override name = 'FollowingLimitError';
  constructor(readonly followingMax: number) {
    super(`a user may follow at most ${followingMax} accounts`);
  }
}

export class BlockedError extends Error {
  override name = 'BlockedError';
  constructor(readonly userId: string) {
    super(`user ${JSON.stringify(userId)} has blocked you or is blocked by you`);
  }
}

export class PostRateLimitedError extends Error {
  override name = 'PostRateLimitedError';
  constructor(readonly retryAfterMs: number) {
    super(`too many posts; retry in ${retryAfterMs} ms`);
  }
}

export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError';
  constructor() {
    super('this Idempotency-Key was used with another request body');
  }
}
