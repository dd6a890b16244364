import { readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type InstalledPackage,
  OUTSIDE_COMMAND_TIMEOUT_MS,
  PACK_TIMEOUT_MS,
  packAndInstall,
  RESOLUTIONS,
  runNode,
  typecheckConsumer,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** A user's program: PGlite in memory, migrations from the package, a job, a flow and a cron tick. */
const CONSUMER_JS = `
import { PGlite } from '@electric-sql/pglite';
import { CronScheduler, JobQueue, Worker, nextTick, pgliteSql } from '@sysdesign/job-queue';

const queue = new JobQueue({ sql: pgliteSql(await PGlite.create()) });
const migrated = await queue.migrate();
const worker = await new Worker(queue, 'emails', async (job, context) => {
  const inputs = await context.dependencies();
  return { sent: job.payload.to, after: inputs.map((input) => input.ref) };
}, { concurrency: 2 }).start();
const { id } = await queue.enqueue('emails', { to: 'a@example.com' });
const flow = await queue.flow([
  { ref: 'first', queue: 'emails', payload: { to: 'b' } },
  { ref: 'second', queue: 'emails', payload: { to: 'c' }, dependsOn: ['first'] },
]);
const until = async (jobId) => {
  for (;;) {
    const job = await queue.get(jobId);
    if (job.state === 'succeeded') return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const single = await until(id);
const second = await until(flow.jobs.second);
await worker.close();
const scheduler = new CronScheduler(queue);
const schedule = await scheduler.upsert({ name: 'nightly', queue: 'emails', cron: '0 3 * * *', timeZone: 'Europe/Paris' });
console.log(JSON.stringify({
  migrated,
  single: single.output,
  second: second.output,
  scheduled: schedule.nextTickAt.toISOString() === nextTick('0 3 * * *', 'Europe/Paris', Date.now()).toISOString(),
}));
`;

const CONSUMER_TS = `
import { type Handler, type Job, JobQueue, JobQueueErrorCode, type JobQueueSql, Worker, isJobQueueError } from '@sysdesign/job-queue';

declare const sql: JobQueueSql;
const queue = new JobQueue({ sql, schema: 'jobs', now: () => Date.now() });
const handler: Handler<{ to: string }> = async (job: Job<{ to: string }>, context) => {
  context.signal.throwIfAborted();
  await context.progress({ step: 1 });
  return { to: job.payload.to, fence: context.fence };
};
export const worker = new Worker(queue, 'emails', handler, { concurrency: 4, leaseMs: 10_000 });
export async function submit(): Promise<string> {
  try {
    return (await queue.enqueue('emails', { to: 'x' }, { jobKey: 'k', maxAttempts: 3 })).id;
  } catch (error) {
    return isJobQueueError(error, JobQueueErrorCode.PAYLOAD_TOO_LARGE) ? 'too large' : 'other';
  }
}
`;

let project: InstalledPackage;

/** PGlite's exports map has no './package.json', so testkit's `links` cannot find it: linked here. */
async function linkPglite(projectDir: string): Promise<void> {
  const entry = createRequire(join(packageDir, 'package.json')).resolve('@electric-sql/pglite');
  const pgliteDir = entry.slice(
    0,
    entry.lastIndexOf('/node_modules/@electric-sql/pglite/') + '/node_modules/@electric-sql/pglite'.length,
  );
  await mkdir(join(projectDir, 'node_modules', '@electric-sql'), { recursive: true });
  await symlink(pgliteDir, join(projectDir, 'node_modules', '@electric-sql', 'pglite'), 'dir');
}

beforeAll(async () => {
  project = await packAndInstall(packageDir, { links: ['cron-parser', '@types/node'] });
  await linkPglite(project.projectDir);
}, PACK_TIMEOUT_MS);

afterAll(() => project?.remove());

describe('the published package', () => {
  it('ships dist (JavaScript and declarations), the migrations, README, LICENSE and the manifest', () => {
    // Proves the tarball holds what migrate() reads at run time and nothing of the sources.
    const extra = project.packedFiles.filter(
      (file) =>
        !/^(dist\/[\w/-]+\.(js|d\.ts)|migrations\/\d{3}_[a-z0-9_]+\.sql|package\.json|README\.md|LICENSE)$/.test(
          file,
        ),
    );
    expect(extra).toEqual([]);
    expect(project.packedFiles).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'dist/index.js',
        'migrations/001_create.sql',
        'migrations/003_lean_history.sql',
      ]),
    );
  });

  it('points every export and types entry at a shipped file, with cron-parser its one dependency', () => {
    // Proves the manifest an outside project reads resolves without the workspace condition.
    const manifest = JSON.parse(readFileSync(join(project.installedDir, 'package.json'), 'utf8'));
    expect(JSON.stringify(manifest.exports)).not.toContain('@sysdesign/source');
    expect(Object.keys(manifest.exports)).toEqual(['.', './package.json']);
    for (const target of [
      manifest.main,
      manifest.types,
      manifest.exports['.'].types,
      manifest.exports['.'].default,
    ]) {
      expect(project.packedFiles).toContain(String(target).replace(/^\.\//, ''));
    }
    expect(Object.keys(manifest.dependencies)).toEqual(['cron-parser']);
  });

  it(
    'runs from plain node: migrates, runs a job and a flow, and schedules a cron',
    async () => {
      // Proves the built package works end to end for a user with PGlite and no workspace.
      expect(JSON.parse(await runNode(project, CONSUMER_JS))).toEqual({
        migrated: ['001_create', '002_queue_limits', '003_lean_history', '004_flow_jobs'],
        single: { sent: 'a@example.com', after: [] },
        second: { sent: 'c', after: ['first'] },
        scheduled: true,
      });
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );

  it.each(RESOLUTIONS)(
    'typechecks a strict consumer under %s resolution',
    async (resolution) => {
      // Proves the declarations are complete for each module resolution a consumer may use.
      expect(await typecheckConsumer(project, resolution, CONSUMER_TS, { types: ['node'] })).toBe('');
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );
});
