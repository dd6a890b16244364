import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file rather than the working directory: pnpm runs bench scripts in
 * each service's folder, and the results must land in one place whichever folder that is. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where `writeReport` puts `<service>.md`. */
export const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

/** Service names become file names: kebab-case only, so no name can point outside `results/`. */
export function assertServiceName(service: string): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(service)) throw new Error(`service name must be kebab-case: "${service}"`);
}

export function resultsPath(service: string): string {
  assertServiceName(service);
  return join(resultsDir, `${service}.md`);
}
