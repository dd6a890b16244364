import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * `pnpm --filter <package> test` runs the package's `test` script from its own folder. It finds
 * its tests only by naming its vitest project from the repository root, where vitest.config.ts
 * declares one project per package folder with a test/ directory. Both halves are checked here
 * for every package, so a new package (seven more services are coming) cannot drift.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface WorkspacePackage {
  folder: string;
  dir: string;
  testScript: string | undefined;
}

function workspacePackages(): WorkspacePackage[] {
  const dirs = [
    ...['libs', 'services'].flatMap((group) =>
      readdirSync(join(root, group)).map((folder) => join(root, group, folder)),
    ),
    join(root, 'load-tests'),
  ].filter((dir) => existsSync(join(dir, 'package.json')));
  return dirs.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    return { folder: relative(join(dir, '..'), dir), dir, testScript: manifest.scripts?.test };
  });
}

interface VitestProject {
  test: { name: string; root: string };
}

const packages = workspacePackages();
const tested = packages.filter((entry) => existsSync(join(entry.dir, 'test')));
let projects: VitestProject[];

beforeAll(async () => {
  const config = (await import(pathToFileURL(join(root, 'vitest.config.ts')).href)) as {
    default: { test: { projects: VitestProject[] } };
  };
  projects = config.default.test.projects;
});

describe('the workspace test scripts', () => {
  it('finds the packages: libs, services and the load harness', () => {
    expect(tested.map((entry) => entry.folder)).toEqual(
      expect.arrayContaining(['platform', 'testkit', 'console', 'load-tests']),
    );
  });

  it.each(tested.map((entry) => [entry.folder, entry] as const))(
    '%s: its test script runs its own vitest project from the repository root',
    (folder, entry) => {
      const toRoot = relative(entry.dir, root);
      expect(entry.testScript).toBe(`vitest run --root ${toRoot} --project ${folder}`);
    },
  );

  it('has no test script in a package without a test/ directory (vitest would find no project)', () => {
    const untested = packages.filter((entry) => !tested.includes(entry) && entry.testScript !== undefined);
    expect(untested.map((entry) => entry.folder)).toEqual([]);
  });

  it('declares a vitest project, named after its folder and rooted there, for every package with tests', () => {
    const declared = projects.map((project) => [project.test.name, project.test.root]);
    const expected = tested.map((entry) => [entry.folder, entry.dir.replace(/\/$/, '')]);
    expect(declared).toEqual(expect.arrayContaining(expected));
  });
});
