import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CommandFailedError, runCommand } from './command.js';
import type { InstalledPackage } from './pack.js';

/**
 * What an outside project does with an installed package (pack.ts): run it with plain `node`, and
 * typecheck a strict consumer under each module resolution a consumer may use. No
 * `@sysdesign/source` condition anywhere.
 */

export const RESOLUTIONS = ['NodeNext', 'Bundler', 'Node10'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const MODULE_SETTINGS: Record<Resolution, { module: string; moduleResolution: string }> = {
  NodeNext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  Bundler: { module: 'ESNext', moduleResolution: 'Bundler' },
  // Node10 ignores `exports`: it finds the root through `types` and subpaths through `typesVersions`.
  Node10: { module: 'ESNext', moduleResolution: 'Node10' },
};

/** For a test that runs node or tsc in an outside project: tsc over a framework's typings takes seconds, more on a loaded machine. */
export const OUTSIDE_COMMAND_TIMEOUT_MS = 120_000;

/** Runs `source` as an ES module with plain `node` in the project; resolves with its stdout. */
export async function runNode(
  project: InstalledPackage,
  source: string,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  await writeFile(join(project.projectDir, 'main.mjs'), source);
  // The workspace's NODE_OPTIONS may carry `--conditions=@sysdesign/source`; a user's has none.
  const { NODE_OPTIONS: _workspaceOptions, ...inherited } = process.env;
  return runCommand(process.execPath, ['main.mjs'], {
    cwd: project.projectDir,
    env: { ...inherited, ...env },
  });
}

export interface ConsumerOptions {
  /** `compilerOptions.types`: none by default, `['node']` for a consumer that uses Node's. */
  types?: readonly string[] | undefined;
}

/** Typechecks `source` as a strict consumer under `resolution`; resolves with tsc's complaints ('' if none). */
export async function typecheckConsumer(
  project: InstalledPackage,
  resolution: Resolution,
  source: string,
  { types = [] }: ConsumerOptions = {},
): Promise<string> {
  const file = `consumer-${resolution.toLowerCase()}.ts`;
  const config = `tsconfig.${resolution.toLowerCase()}.json`;
  await writeFile(join(project.projectDir, file), source);
  await writeFile(
    join(project.projectDir, config),
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
    return await runCommand(process.execPath, [tsc, '-p', config], { cwd: project.projectDir });
  } catch (error) {
    // tsc prints the consumer's type errors to stdout and exits non-zero: they are the answer.
    if (error instanceof CommandFailedError && error.stdout !== '') return error.stdout;
    throw error;
  }
}
