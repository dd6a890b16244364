import { defineProblems, idProblems, type Problem } from '@sysdesign/platform';
import { IdBudgetExceededError } from './domain/id-budget.js';
import { UlidOverflowError } from './domain/ulid.js';

/**
 * The id-generator's errors as problems. The snowflake generator's refusals are mapped by the
 * platform (`ERR_ID_*`); a ULID whose time field overflows is the same fault, so it answers alike.
 */
export function mapIdGeneratorError(error: unknown): Problem | undefined {
  if (error instanceof UlidOverflowError) return idProblems.ERR_ID_EPOCH_EXHAUSTED(error.message);
  if (error instanceof IdBudgetExceededError) {
    const { maxIdsInFlight, maxIdsQueued } = error.limits;
    return errors.IDGEN_ERR_BUSY(
      `more ids are being made or waiting than this instance allows (${maxIdsInFlight} at once, ` +
        `${maxIdsQueued} waiting); retry shortly or ask for fewer`,
      { maxIdsInFlight, maxIdsQueued },
      { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
    );
  }
  return undefined;
}

/** How long a refused client should wait before asking again: the queue drains in well under this. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/** The id-generator's own stable codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  IDGEN_ERR_BUSY: { status: 503, title: 'Too many ids requested at once' },
});
