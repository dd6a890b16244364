import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Paths are resolved from this file, not the working directory: `pnpm --filter <package> test` runs
// vitest from the package's folder with `--root ../..`.
const repositoryRoot = import.meta.dirname;

// Workspace packages resolve to their TypeScript sources through this export condition, so tests
// never need a build step. Published consumers do not set it and get dist/.
const sourceCondition = '@sysdesign/source';

/** One vitest project per package folder that has a test/ directory. */
function packageProjects(groupName: string) {
  const group = join(repositoryRoot, groupName);
  if (!existsSync(group)) return [];
  return readdirSync(group)
    .filter((name) => existsSync(join(group, name, 'test')))
    .map((name) => ({
      extends: true as const,
      test: {
        name,
        root: join(group, name),
        include: ['test/**/*.test.ts'],
      },
    }));
}

/** The load harness and the root scripts (`pnpm chaos`): one folder each, not a folder of packages. */
function folderProject(name: string) {
  const root = join(repositoryRoot, name);
  if (!existsSync(join(root, 'test'))) return [];
  return [
    {
      extends: true as const,
      test: { name, root, include: ['test/**/*.test.ts'] },
    },
  ];
}

export default defineConfig({
  resolve: { conditions: [sourceCondition, 'module', 'node', 'default'] },
  ssr: {
    resolve: { conditions: [sourceCondition, 'node', 'default'], externalConditions: [sourceCondition] },
  },
  test: {
    pool: 'forks',
    // CI asks for a JSON report to print its closing `tests: N passed, ...` line from.
    ...(process.env.SYSDESIGN_TEST_REPORT
      ? { reporters: ['default', 'json'], outputFile: { json: process.env.SYSDESIGN_TEST_REPORT } }
      : {}),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      ...packageProjects('libs'),
      ...packageProjects('services'),
      ...folderProject('load-tests'),
      ...folderProject('scripts'),
    ],
  },
});
