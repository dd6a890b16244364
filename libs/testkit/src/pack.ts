import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { runCommand } from './command.js';
import { withFileLock } from './file-lock.js';
import { tempDir } from './temp-dir.js';

/**
 * A workspace package as an outside project gets it from the registry: `pnpm pack` (which runs
 * `prepack` and applies `publishConfig`, as publishing does), the tarball unpacked into a new
 * project's node_modules, nothing of the workspace around it. A test then imports it from plain
 * `node` or type-checks a consumer with `tsc` (outside-project.ts), without the
 * `@sysdesign/source` condition.
 */

export interface PackOptions {
  /** Build with `tsc -p tsconfig.build.json` first, for a package whose `prepack` does not. */
  build?: boolean | undefined;
}

export interface InstallOptions {
  /** Packages the outside project installs beside it (its peers, `@types/...`), linked from the package's own. */
  links?: readonly string[] | undefined;
}

export interface PackedPackage {
  name: string;
  /** The workspace folder it was packed from. */
  packageDir: string;
  tarballPath: string;
  /** Every path in the tarball, relative to the package root (`dist/index.js`), sorted. */
  files: string[];
}

export interface InstalledPackage {
  /** The outside project: a `package.json` of type module and the `node_modules` holding the package. */
  projectDir: string;
  /** `<projectDir>/node_modules/<name>`: the unpacked tarball. */
  installedDir: string;
  /** Every path in the tarball, relative to the package root (`dist/index.js`), sorted. */
  packedFiles: string[];
  /** Removes the project (it is also removed when the test process exits). */
  remove(): Promise<void>;
}

/**
 * One pack at a time on this machine, across vitest's workers and runs side by side. A pack runs
 * the package's `prepack`, which deletes and rebuilds its dist/ with tsc: several at once on a
 * loaded machine is the heaviest thing the suite does, and two of one package at once (two runs
 * in one worktree) would delete each other's dist/ mid-build.
 */
const PACK_LOCK_PATH = join(tmpdir(), 'sysdesign-pnpm-pack.lock');

/**
 * For the hook that packs: it may wait behind every other pack on the machine, then run tsc. The
 * lock's own wait is shorter, so a stuck holder fails with a message naming it, not a hook timeout.
 */
export const PACK_TIMEOUT_MS = 600_000;
const PACK_WAIT_MS = 480_000;

/** `pnpm pack`s `packageDir` into a temporary directory. */
export async function packPackage(packageDir: string, options: PackOptions = {}): Promise<PackedPackage> {
  const { name } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { name: string };
  const destination = await tempDir(`${basename(name)}-pack-`);
  await withFileLock(PACK_LOCK_PATH, () => buildAndPack(packageDir, destination, options), {
    timeoutMs: PACK_WAIT_MS,
    purpose: `the pack lock, to pack ${name}`,
  });
  const tarball = (await readdir(destination)).find((file) => file.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`pnpm pack of ${name} wrote no tarball into ${destination}`);
  const tarballPath = join(destination, tarball);
  const listing = await runCommand('tar', ['-tzf', tarballPath]);
  const files = listing
    .trim()
    .split('\n')
    .map((path) => path.replace(/^package\//, ''))
    .sort();
  return { name, packageDir, tarballPath, files };
}

async function buildAndPack(packageDir: string, destination: string, options: PackOptions): Promise<void> {
  if (options.build === true) {
    const tsc = createRequire(join(packageDir, 'package.json')).resolve('typescript/bin/tsc');
    await runCommand(process.execPath, [tsc, '-p', join(packageDir, 'tsconfig.build.json')]);
  }
  await runCommand('pnpm', ['pack', '--pack-destination', destination], { cwd: packageDir });
}

/** Unpacks `packed` into a new outside project; one pack can be installed into several. */
export async function installPacked(
  packed: PackedPackage,
  options: InstallOptions = {},
): Promise<InstalledPackage> {
  const projectDir = await tempDir(`${basename(packed.name)}-outside-`);
  const installedDir = join(projectDir, 'node_modules', ...packed.name.split('/'));
  await mkdir(installedDir, { recursive: true });
  await runCommand('tar', ['-xzf', packed.tarballPath, '-C', installedDir, '--strip-components=1']);
  const requireFromPackage = createRequire(join(packed.packageDir, 'package.json'));
  for (const peer of options.links ?? []) {
    const peerDir = dirname(requireFromPackage.resolve(`${peer}/package.json`));
    const linkPath = join(projectDir, 'node_modules', ...peer.split('/'));
    await mkdir(dirname(linkPath), { recursive: true });
    await symlink(peerDir, linkPath, 'dir');
  }
  await writeFile(
    join(projectDir, 'package.json'),
    JSON.stringify({ name: 'outside', private: true, type: 'module' }),
  );
  return {
    projectDir,
    installedDir,
    packedFiles: packed.files,
    remove: () => rm(projectDir, { recursive: true, force: true }),
  };
}

/** `packPackage` then `installPacked`, for a test that needs one outside project. */
export async function packAndInstall(
  packageDir: string,
  options: PackOptions & InstallOptions = {},
): Promise<InstalledPackage> {
  return installPacked(await packPackage(packageDir, options), options);
}
