import type { HistoryEvent } from '../history.js';

/** One thing a checker found wrong, with the smallest part of the history that shows it. */
export interface Anomaly {
  kind: string;
  message: string;
  excerpt: HistoryEvent[];
}

/** What every checker returns: a pure verdict over a whole history. */
export interface CheckResult {
  valid: boolean;
  anomalies: Anomaly[];
}

export function resultOf(anomalies: Anomaly[]): CheckResult {
  return { valid: anomalies.length === 0, anomalies };
}
