import { isJobQueueError, JobQueueErrorCode } from '@sysdesign/job-queue';
import { defineProblems, type Problem } from '@sysdesign/platform';
import { HostNotAllowedError } from './domain/allowlist.js';
import { InvalidPayloadError } from './domain/payloads.js';

/**
 * The scheduler's stable error codes. The library's `JOBQ_ERR_*` codes reach clients unchanged
 * (the problem's `code` is the library's), with the status their meaning calls for; the service
 * adds the codes of its own checks.
 */
export const errors = defineProblems({
  JOBSCHED_ERR_UNKNOWN_QUEUE: { status: 404, title: 'Unknown queue' },
  JOBSCHED_ERR_INVALID_PAYLOAD: { status: 400, title: 'Invalid payload for this job type' },
  JOBSCHED_ERR_HOST_NOT_ALLOWED: { status: 422, title: 'Host not on the allowlist' },
  JOBSCHED_ERR_SCHEDULE_NOT_FOUND: { status: 404, title: 'Cron schedule not found' },
  JOBSCHED_ERR_TOO_MANY_SCHEDULES: { status: 409, title: 'Too many cron schedules' },
  JOBSCHED_ERR_WORKER_NOT_FOUND: { status: 404, title: 'Push worker not found' },
  JOBSCHED_ERR_TOO_MANY_WORKERS: { status: 409, title: 'Too many push workers' },
  JOBQ_ERR_INVALID_OPTION: { status: 400, title: 'Invalid job option' },
  JOBQ_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  JOBQ_ERR_TOO_MANY_JOBS: { status: 413, title: 'Too many jobs in one call' },
  JOBQ_ERR_NOT_FOUND: { status: 404, title: 'Job not found' },
  JOBQ_ERR_FENCED: { status: 409, title: 'Stale fencing token' },
  JOBQ_ERR_WRONG_STATE: { status: 409, title: 'Job is not in a state that allows this' },
  JOBQ_ERR_CYCLE: { status: 422, title: 'The DAG has a cycle' },
  JOBQ_ERR_UNKNOWN_DEPENDENCY: { status: 422, title: 'Unknown dependency' },
  JOBQ_ERR_INVALID_CRON: { status: 400, title: 'Invalid cron expression or time zone' },
});

/** Library codes a client can cause; the others (timeouts, lost leases) are attempt errors, never answers. */
const CLIENT_CODES = [
  JobQueueErrorCode.INVALID_OPTION,
  JobQueueErrorCode.PAYLOAD_TOO_LARGE,
  JobQueueErrorCode.TOO_MANY_JOBS,
  JobQueueErrorCode.NOT_FOUND,
  JobQueueErrorCode.FENCED,
  JobQueueErrorCode.WRONG_STATE,
  JobQueueErrorCode.CYCLE,
  JobQueueErrorCode.UNKNOWN_DEPENDENCY,
  JobQueueErrorCode.INVALID_CRON,
] as const;

type ClientCode = (typeof CLIENT_CODES)[number];

function isClientCode(code: string): code is ClientCode {
  return (CLIENT_CODES as readonly string[]).includes(code);
}

/** The library's typed errors as problems; anything else goes on to the platform's mapping. */
export function mapJobSchedulerError(error: unknown): Problem | undefined {
  if (error instanceof InvalidPayloadError)
    return errors.JOBSCHED_ERR_INVALID_PAYLOAD(error.message, { errors: error.issues });
  if (error instanceof HostNotAllowedError)
    return errors.JOBSCHED_ERR_HOST_NOT_ALLOWED(error.message, { host: error.host });
  if (!isJobQueueError(error) || !isClientCode(error.code)) return undefined;
  return errors[error.code](error.message, { ...error.details });
}
