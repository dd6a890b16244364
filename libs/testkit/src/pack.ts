import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir.js';

/**
 * A workspace package as an outside project gets it from the registry: `pnpm pack` (which runs
 * `prepack` and applies `publishConfig`, as publishing does), the tarball unpacked into a new
 * project's node_modules, nothing of the workspace around it. A test then imports it from plain
 * `node` or type-checks a consumer with `tsc`, without the `@sysdesign/source` condition.
 */

const run = promisify(execFile);

export interface PackOptions {
  /** Build with `tsc -p tsconfig.build.json` first, for a package whose `prepack` does not. */
  build?: boolean;
  /** Packages the outside project installs beside it (its peers), linked from the package's own. */
  links?: readonly string[];
}

export interface InstalledPackage {
  /** The outside project: a `package.json` of type module and the `node_modules` holding the package. */
  projectDir: string;
  /** `<projectDir>/node_modules/<name>`: the unpacked tarball. */
  installedDir: string;
  /** The tarball's entries (`package/...`), sorted. */
  tarballFiles: string[];
  /** Removes the project (it is also removed when the test process exits). */
  remove(): Promise<void>;
}

export async function packAndInstall(
  packageDir: string,
  options: PackOptions = {},
): Promise<InstalledPackage> {
  const requireFromPackage = createRequire(join(packageDir, 'package.json'));
  const { name } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { name: string };
  if (options.build === true) {
    const tsc = requireFromPackage.resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', join(packageDir, 'tsconfig.build.json')]);
  }
  const projectDir = await tempDir(`${basename(name)}-outside-`);
  await run('pnpm', ['pack', '--pack-destination', projectDir], { cwd: packageDir });
  const tarball = (await readdir(projectDir)).find((file) => file.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`pnpm pack of ${name} wrote no tarball into ${projectDir}`);
  const tarballPath = join(projectDir, tarball);
  const listing = await run('tar', ['-tzf', tarballPath]);
  const installedDir = join(projectDir, 'node_modules', ...name.split('/'));
  await mkdir(installedDir, { recursive: true });
  await run('tar', ['-xzf', tarballPath, '-C', installedDir, '--strip-components=1']);
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
    tarballFiles: listing.stdout.trim().split('\n').sort(),
    remove: () => rm(projectDir, { recursive: true, force: true }),
  };
}
