/**
 * `pnpm bench`: runs the `bench` script of every service that has one, one after another (two benches
 * at once would measure each other), with their output passed through. Exits non-zero if any failed.
 * `pnpm bench id-generator wallet` runs only those services.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

interface BenchablePackage {
  folder: string;
  packageName: string;
}

function benchablePackages(): BenchablePackage[] {
  const servicesDir = join(repoRoot, 'services');
  if (!existsSync(servicesDir)) return [];
  const packages: BenchablePackage[] = [];
  for (const folder of readdirSync(servicesDir).sort()) {
    const manifestPath = join(servicesDir, folder, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      name?: string;
      scripts?: Record<string, string>;
    };
    if (manifest.name && manifest.scripts?.bench) packages.push({ folder, packageName: manifest.name });
  }
  return packages;
}

function runBench(pkg: BenchablePackage): Promise<number> {
  return new Promise((resolveRun) => {
    const child = spawn('pnpm', ['--filter', pkg.packageName, 'run', 'bench'], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
    child.once('error', (error) => {
      process.stderr.write(`could not start pnpm for ${pkg.packageName}: ${error.message}\n`);
      resolveRun(1);
    });
    child.once('exit', (code, signal) => resolveRun(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const all = benchablePackages();
  const unknown = only.filter((folder) => !all.some((pkg) => pkg.folder === folder));
  if (unknown.length > 0) {
    process.stderr.write(`no service with a bench script: ${unknown.join(', ')}\n`);
    return 1;
  }
  const selected = only.length > 0 ? all.filter((pkg) => only.includes(pkg.folder)) : all;
  if (selected.length === 0) {
    process.stderr.write('no service has a bench script yet\n');
    return 0;
  }
  const failed: string[] = [];
  for (const pkg of selected) {
    process.stderr.write(`\n=== bench ${pkg.packageName} ===\n`);
    if ((await runBench(pkg)) !== 0) failed.push(pkg.packageName);
  }
  const passed = selected.length - failed.length;
  process.stderr.write(
    `\nbench: ${passed} passed, ${failed.length} failed${failed.length ? `: ${failed.join(', ')}` : ''}\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
