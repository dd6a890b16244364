/**
 * Which fault suites `pnpm chaos <service>` runs: a service's vitest project and a file pattern
 * under its `test/faults/`. A new suite is one line here; a pattern that matches nothing yet is
 * reported as "no fault suite yet", not as an error in the registry.
 */

export interface FaultSuiteEntry {
  /** The package folder, from the repository root. */
  folder: string;
  /** Its vitest project (the folder's name). */
  project: string;
  /** File names under `<folder>/test/faults/`; `*` matches any run of characters. */
  pattern: string;
}

export const FAULT_SUITES: Readonly<Record<string, FaultSuiteEntry>> = {
  'id-generator': {
    folder: 'services/id-generator',
    project: 'id-generator',
    pattern: 'clock-and-lease.test.ts',
  },
  'kv-store': { folder: 'services/kv-store', project: 'kv-store', pattern: 'lab*.test.ts' },
  'rate-limiter': { folder: 'services/rate-limiter', project: 'rate-limiter', pattern: 'redis-link.test.ts' },
  'url-shortener': {
    folder: 'services/url-shortener',
    project: 'url-shortener',
    pattern: 'click-consumer.test.ts',
  },
};

export const FAULTS_DIR = 'test/faults';

/** The suite files of `entry` among `names` (the file names in its faults folder), sorted. */
export function matchSuiteFiles(entry: FaultSuiteEntry, names: readonly string[]): string[] {
  const escaped = entry.pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`^${escaped.join('.*')}$`);
  return names
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => `${entry.folder}/${FAULTS_DIR}/${name}`);
}
