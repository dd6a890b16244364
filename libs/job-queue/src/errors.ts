/**
 * Every expected failure of the library is a `JobQueueError` with a stable `code`, so a service
 * maps codes to HTTP statuses in one table (the job scheduler: FENCED -> 409, PAYLOAD_TOO_LARGE ->
 * 413, CYCLE -> 422...). Anything else thrown from here is a bug or a database failure.
 */

export const JobQueueErrorCode = {
  /** An option or argument out of range: a negative delay, zero attempts, a bad queue name. */
  INVALID_OPTION: 'JOBQ_ERR_INVALID_OPTION',
  /** The payload (or an output, a progress value) is larger than the configured bound. */
  PAYLOAD_TOO_LARGE: 'JOBQ_ERR_PAYLOAD_TOO_LARGE',
  /** More jobs in one bulk call or one flow than the configured bound. */
  TOO_MANY_JOBS: 'JOBQ_ERR_TOO_MANY_JOBS',
  /** No job with that id. */
  NOT_FOUND: 'JOBQ_ERR_NOT_FOUND',
  /**
   * A heartbeat, progress, completion or failure carried a fencing token that is no longer the
   * job's: the lease lapsed, the job was cancelled, or it was already completed.
   */
  FENCED: 'JOBQ_ERR_FENCED',
  /** The operation does not apply to the job's current state (replay of a job that is not dead). */
  WRONG_STATE: 'JOBQ_ERR_WRONG_STATE',
  /** A flow whose dependencies form a cycle; the message and `cycle` name it. */
  CYCLE: 'JOBQ_ERR_CYCLE',
  /** A flow whose dependency names a job that is neither in the flow nor an existing job. */
  UNKNOWN_DEPENDENCY: 'JOBQ_ERR_UNKNOWN_DEPENDENCY',
  /** A cron expression or time zone that does not parse. */
  INVALID_CRON: 'JOBQ_ERR_INVALID_CRON',
  /** The handler ran past the job's timeout (its signal was aborted). */
  TIMEOUT: 'JOBQ_ERR_TIMEOUT',
  /** The worker lost the job's lease (lapsed, cancelled): its signal was aborted. */
  LEASE_LOST: 'JOBQ_ERR_LEASE_LOST',
  /** A worker's lease lapsed and the reaper put the job back. Recorded as the attempt's error. */
  LEASE_LAPSED: 'JOBQ_ERR_LEASE_LAPSED',
  /** The worker is stopping, or stopped. */
  STOPPED: 'JOBQ_ERR_STOPPED',
} as const;

export type JobQueueErrorCode = (typeof JobQueueErrorCode)[keyof typeof JobQueueErrorCode];

export class JobQueueError extends Error {
  constructor(
    readonly code: JobQueueErrorCode,
    message: string,
    /** Extra facts for the caller: the cycle's refs, the limit that was broken. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'JobQueueError';
  }
}

export function isJobQueueError(error: unknown, code?: JobQueueErrorCode): error is JobQueueError {
  return error instanceof JobQueueError && (code === undefined || error.code === code);
}

/** What a failed attempt records: serialisable, bounded. */
export interface JobErrorRecord {
  message: string;
  code?: string | undefined;
  name?: string | undefined;
}

const ERROR_MESSAGE_MAX_CHARS = 2_000;

export function errorRecordOf(error: unknown): JobErrorRecord {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      message: error.message.slice(0, ERROR_MESSAGE_MAX_CHARS),
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { message: String(error).slice(0, ERROR_MESSAGE_MAX_CHARS) };
}
