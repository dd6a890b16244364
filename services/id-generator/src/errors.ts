import { defineProblems } from '@sysdesign/platform';

/** The id-generator's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  IDGEN_ERR_CLOCK_MOVED_BACKWARDS: { status: 503, title: 'Clock moved backwards' },
  IDGEN_ERR_WORKER_UNAVAILABLE: { status: 503, title: 'Worker id not held' },
  IDGEN_ERR_EPOCH_EXHAUSTED: { status: 503, title: 'Id time field exhausted' },
  IDGEN_ERR_BUSY: { status: 503, title: 'Too many ids requested at once' },
});
