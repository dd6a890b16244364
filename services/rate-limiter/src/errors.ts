import { defineProblems, type Problem, validationProblem } from '@sysdesign/platform';
import { HitsExceedLimitError, UnknownDomainError } from './domain/checker.js';

/** The rate-limiter's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  RL_ERR_UNKNOWN_DOMAIN: { status: 400, title: 'Unknown domain' },
  RL_ERR_HITS_EXCEED_LIMIT: { status: 400, title: 'Hits exceed the rule' },
});

/** The checker's refusals as problems; both name the body field at fault, as validation errors do. */
export function mapRateLimiterError(error: unknown): Problem | undefined {
  if (error instanceof UnknownDomainError) {
    return errors.RL_ERR_UNKNOWN_DOMAIN(`no rules for domain "${error.domain}"`, {
      errors: [{ in: 'body', field: 'domain', message: 'unknown domain' }],
      knownDomains: error.knownDomains,
    });
  }
  if (error instanceof HitsExceedLimitError) {
    const problem = validationProblem([{ in: 'body', field: 'hits', message: error.message }]);
    return errors.RL_ERR_HITS_EXCEED_LIMIT(error.message, {
      errors: problem.extensions.errors,
      rule: error.ruleId,
    });
  }
  return undefined;
}
