import { defineProblems } from '@sysdesign/platform';

/** The rate-limiter's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  RL_ERR_UNKNOWN_DOMAIN: { status: 400, title: 'Unknown domain' },
  RL_ERR_HITS_EXCEED_LIMIT: { status: 400, title: 'Hits exceed the rule' },
});
