import { waitFor } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { databases, type TestDatabase } from './helpers.js';

describe.each(databases())('tenant fairness on $name', ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(() => database?.close());

  async function runOrder(fairTenants: boolean): Promise<string[]> {
    const queue = await database.open();
    const name = fairTenants ? 'fair' : 'fifo';
    const big = Array.from({ length: 1_000 }, (_, index) => ({
      queue: name,
      payload: { tenant: 'big', index },
      options: { tenant: 'big' },
    }));
    await queue.enqueueMany(big);
    await queue.enqueueMany(
      Array.from({ length: 10 }, (_, index) => ({
        queue: name,
        payload: { tenant: 'small', index },
        options: { tenant: 'small' },
      })),
    );
    const order: string[] = [];
    const worker = new Worker<{ tenant: string }>(queue, name, (job) => void order.push(job.payload.tenant), {
      concurrency: 4,
      fairTenants,
    });
    await worker.start();
    try {
      await waitFor(() => order.length === 1_010, 'every job to run', { timeoutMs: 60_000, intervalMs: 50 });
    } finally {
      await worker.close();
    }
    return order;
  }

  it('runs a small tenant queued behind a 1,000-job flood within the first claims when fair', async () => {
    // Proves round-robin claims: each claim takes an even share from every tenant with due jobs,
    // so the small tenant's 10 jobs all run among the first few dozen, not after the flood.
    const order = await runOrder(true);
    expect(order.lastIndexOf('small')).toBeLessThan(60);
  });

  it('runs them after the flood in plain priority-then-FIFO order', async () => {
    // Proves the measurement above means something: without fairness the small tenant waits for all 1,000.
    const order = await runOrder(false);
    expect(order.indexOf('small')).toBeGreaterThanOrEqual(1_000);
  });
});
