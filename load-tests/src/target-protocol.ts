/**
 * The messages a target child process and the harness exchange over the fork IPC channel. The child
 * reports once (ready or failed); the parent only ever asks it to stop.
 */
export type RunnerMessage = { type: 'ready'; port: number } | { type: 'failed'; error: string };

export type ParentMessage = { type: 'stop' };

/** The export a target module provides unless the spec names another. */
export const DEFAULT_TARGET_EXPORT = 'createBenchTarget';

export function isRunnerMessage(value: unknown): value is RunnerMessage {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  if (value.type === 'ready') return 'port' in value && typeof value.port === 'number';
  if (value.type === 'failed') return 'error' in value && typeof value.error === 'string';
  return false;
}

export function isParentMessage(value: unknown): value is ParentMessage {
  return typeof value === 'object' && value !== null && 'type' in value && value.type === 'stop';
}
