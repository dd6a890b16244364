import { defineProblems, type Problem } from '@sysdesign/platform';
import {
  BadCursorError,
  BlockedError,
  FollowingLimitError,
  IdempotencyConflictError,
  NotPostAuthorError,
  NotRegisteredError,
  PostNotFoundError,
  PostRateLimitedError,
  SelfRelationError,
  UserNotFoundError,
} from './domain/errors.js';

/** The news feed's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  FEED_ERR_BAD_CURSOR: { status: 400, title: 'Invalid cursor' },
  FEED_ERR_USER_NOT_FOUND: { status: 404, title: 'User not found' },
  FEED_ERR_NOT_REGISTERED: { status: 403, title: 'Caller has not registered' },
  FEED_ERR_POST_NOT_FOUND: { status: 404, title: 'Post not found' },
  FEED_ERR_NOT_AUTHOR: { status: 403, title: 'Only the author may do this' },
  FEED_ERR_SELF_RELATION: { status: 422, title: 'Cannot follow, block or mute yourself' },
  FEED_ERR_FOLLOWING_LIMIT: { status: 422, title: 'Following too many accounts' },
  FEED_ERR_BLOCKED: { status: 403, title: 'Blocked' },
  FEED_ERR_RATE_LIMITED: { status: 429, title: 'Posting too often' },
  FEED_ERR_IDEMPOTENCY_CONFLICT: { status: 422, title: 'Idempotency-Key reused with another request' },
});

/** The domain's typed errors as problems; anything else goes to the platform's mapping. */
export function mapFeedError(error: unknown): Problem | undefined {
  if (error instanceof BadCursorError) return errors.FEED_ERR_BAD_CURSOR(error.message, { field: 'cursor' });
  if (error instanceof UserNotFoundError)
    return errors.FEED_ERR_USER_NOT_FOUND(error.message, { userId: error.userId });
  if (error instanceof NotRegisteredError) return errors.FEED_ERR_NOT_REGISTERED(error.message);
  if (error instanceof PostNotFoundError)
    return errors.FEED_ERR_POST_NOT_FOUND(error.message, { postId: error.postId });
  if (error instanceof NotPostAuthorError) return errors.FEED_ERR_NOT_AUTHOR(error.message);
  if (error instanceof SelfRelationError) return errors.FEED_ERR_SELF_RELATION(error.message);
  if (error instanceof FollowingLimitError)
    return errors.FEED_ERR_FOLLOWING_LIMIT(error.message, { followingMax: error.followingMax });
  if (error instanceof BlockedError) return errors.FEED_ERR_BLOCKED(error.message);
  if (error instanceof PostRateLimitedError)
    return errors.FEED_ERR_RATE_LIMITED(
      error.message,
      { retryAfterMs: error.retryAfterMs },
      { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1_000))) },
    );
  if (error instanceof IdempotencyConflictError) return errors.FEED_ERR_IDEMPOTENCY_CONFLICT(error.message);
  return undefined;
}
