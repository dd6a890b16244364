import { describe, it } from 'vitest';
import type { Backend } from './backends.js';

/**
 * `describe` for a suite that needs a backend. Without the backend the suite still appears in the
 * report, as one skipped test whose name says why, and the reason is printed.
 */
export function describeWith<Value>(
  backend: Backend<Value>,
  name: string,
  body: (value: Value) => void,
): void {
  if (backend.available) {
    describe(name, () => body(backend.value));
    return;
  }
  console.warn(`[testkit] skipping "${name}": ${backend.reason}`);
  describe(name, () => {
    it.skip(`skipped: ${backend.reason}`, () => undefined);
  });
}
