import { idProblems, type Problem } from '@sysdesign/platform';
import { UlidOverflowError } from './domain/ulid.js';

/**
 * The id-generator's errors as problems. The snowflake generator's refusals are mapped by the
 * platform (`ERR_ID_*`); a ULID whose time field overflows is the same fault, so it answers alike.
 */
export function mapIdGeneratorError(error: unknown): Problem | undefined {
  if (error instanceof UlidOverflowError) return idProblems.ERR_ID_EPOCH_EXHAUSTED(error.message);
  return undefined;
}
