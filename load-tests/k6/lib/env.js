// @ts-check
/**
 * Reading the environment of a k6 run (`k6 run -e NAME=value`), shared by the scripts beside it.
 * k6 resolves this relative import itself, also under docker compose, which mounts the whole
 * k6/ folder at /scripts.
 */
import { fail } from 'k6';

/**
 * `__ENV[name]` as a whole number above zero, or `fallback` when unset or empty. Anything else
 * stops the run before it starts, naming the variable.
 *
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function positiveInteger(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer, got ${raw}`);
  return value;
}
