import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The package as an outside project gets it: `pnpm pack` (its prepack script cleans and builds
 * dist/, and pnpm applies publishConfig as publishing does), the tarball unpacked into a temporary
 * project's node_modules, then used from plain `node` and typechecked by `tsc` under each module
 * resolution a consumer may use. No `@sysdesign/source` condition anywhere.
 */

export const RESOLUTIONS = ['NodeNext', 'Bundler', 'Node10'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const MODULE_SETTINGS: Record<Resolution, { module: string; moduleResolution: string }> = {
  NodeNext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  Bundler: { module: 'ESNext', moduleResolution: 'Bundler' },
  // Node10 ignores `exports`: it finds the root through `types` and subpaths through `typesVersions`.
  Node10: { module: 'ESNext', moduleResolution: 'Node10' },
};

export interface OutsideProject {
  dir: string;
  /** node_modules/<package name> inside `dir`. */
  installedDir: string;
  /** Every path in the tarball, relative to the package root, sorted. */
  packedFiles: string[];
  remove(): void;
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Packs `packageDir` and installs it, with `links` (peers, @types) symlinked from the workspace. */
export function installPacked(packageDir: string, links: readonly string[] = []): OutsideProject {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { name: string };
  const dir = mkdtempSync(join(tmpdir(), `${manifest.name.replace(/\W/g, '-')}-outside-`));
  run('pnpm', ['pack', '--pack-destination', dir], packageDir);
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`pnpm pack wrote no tarball into ${dir}`);
  const packedFiles = run('tar', ['-tzf', join(dir, tarball)], dir)
    .trim()
    .split('\n')
    .map((path) => path.replace(/^package\//, ''))
    .sort();
  const installedDir = join(dir, 'node_modules', manifest.name);
  mkdirSync(installedDir, { recursive: true });
  run('tar', ['-xzf', join(dir, tarball), '-C', installedDir, '--strip-components=1'], dir);
  const requireFromPackage = createRequire(join(packageDir, 'package.json'));
  for (const link of links) {
    const target = dirname(requireFromPackage.resolve(`${link}/package.json`));
    mkdirSync(dirname(join(dir, 'node_modules', link)), { recursive: true });
    symlinkSync(target, join(dir, 'node_modules', link), 'dir');
  }
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'outside', private: true, type: 'module' }),
  );
  return { dir, installedDir, packedFiles, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs an ESM script with plain `node` in the project; returns its stdout. */
export function runNode(project: OutsideProject, source: string, env: NodeJS.ProcessEnv = {}): string {
  writeFileSync(join(project.dir, 'main.mjs'), source);
  const { NODE_OPTIONS: _conditions, ...inherited } = process.env;
  return execFileSync(process.execPath, ['main.mjs'], {
    cwd: project.dir,
    encoding: 'utf8',
    env: { ...inherited, ...env },
  });
}

/** Typechecks `source` as a strict consumer under `resolution`; returns tsc's complaints ('' if none). */
export function typecheck(
  project: OutsideProject,
  resolution: Resolution,
  source: string,
  types: readonly string[] = [],
): string {
  const file = `consumer-${resolution.toLowerCase()}.ts`;
  const config = `tsconfig.${resolution.toLowerCase()}.json`;
  writeFileSync(join(project.dir, file), source);
  writeFileSync(
    join(project.dir, config),
    JSON.stringify({
      compilerOptions: {
        ...MODULE_SETTINGS[resolution],
        target: 'ES2022',
        strict: true,
        // As most consumers have it; without it, Node10 trips over third-party typings (pino's).
        esModuleInterop: true,
        noEmit: true,
        skipLibCheck: false,
        types,
      },
      files: [file],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    return run(process.execPath, [tsc, '-p', config], project.dir);
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}
