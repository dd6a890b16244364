import { waitFor } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import {
  autoCandidates,
  type LeaseListener,
  MemoryWorkerLeaseStore,
  NoFreeWorkerIdError,
  SnowflakeGenerator,
  WorkerLease,
} from '../../src/index.js';

const EPOCH_MS = 1_704_067_200_000;

/** Wires a lease to a generator the way a service does. */
function guard(generator: SnowflakeGenerator): LeaseListener & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    reachExtended: (reachMs) => generator.setCeiling(reachMs),
    lost: (reason) => {
      events.push('lost');
      generator.suspend(reason);
    },
    regained: (floorMs) => {
      events.push('regained');
      generator.raiseFloor(floorMs);
      generator.resume();
    },
  };
}

describe('WorkerLease', () => {
  it('gives two auto instances different worker ids', async () => {
    const store = new MemoryWorkerLeaseStore();
    const options = { store, datacenterId: 0, candidates: autoCandidates(31), ttlMs: 1_000 };
    const [a, b] = await Promise.all([WorkerLease.acquire(options), WorkerLease.acquire(options)]);
    expect(a.slot.workerId).not.toBe(b.slot.workerId);
    await a.stop(0);
    await b.stop(0);
  });

  it('fails clearly when a fixed worker id is held by a live instance', async () => {
    const store = new MemoryWorkerLeaseStore();
    const options = { store, datacenterId: 0, candidates: [7], ttlMs: 10_000, acquireTimeoutMs: 300 };
    const holder = await WorkerLease.acquire(options);
    await expect(WorkerLease.acquire(options)).rejects.toThrow(NoFreeWorkerIdError);
    await expect(WorkerLease.acquire(options)).rejects.toThrow(/worker id 7 is held/);
    await holder.stop(0);
  });

  it('waits for a crashed holder of a fixed id to expire, then starts after its reach', async () => {
    // The crashed holder never released: its recorded reach is the floor of the next holder.
    const store = new MemoryWorkerLeaseStore();
    const options = { store, datacenterId: 0, candidates: [3], ttlMs: 300 };
    const crashed = await WorkerLease.acquire(options);
    const crashedReach = crashed.reach;
    const started = Date.now();
    const next = await WorkerLease.acquire({ ...options, acquireTimeoutMs: 2_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(next.floorMs).toBe(crashedReach);
    await next.stop(0);
  });

  it('suspends the generator when another instance takes the lease over, and resumes above its floor', async () => {
    const store = new MemoryWorkerLeaseStore();
    const lease = await WorkerLease.acquire({ store, datacenterId: 0, candidates: [1], ttlMs: 150 });
    const generator = new SnowflakeGenerator({ node: { datacenterId: 0, workerId: 1 }, epochMs: EPOCH_MS });
    const listener = guard(generator);
    lease.start(listener);
    // Emulate a takeover: the lease expires while another owner grabs it.
    await store.release(lease.slot, lease.owner, generator.lastIssuedMs);
    await store.tryAcquire(lease.slot, 'intruder', 150);
    await store.renew(lease.slot, 'intruder', 150, Date.now() + 150);
    await waitFor(() => listener.events.includes('lost'), 'the lease keeper to notice the takeover');
    expect(() => generator.tryNext()).toThrow(/taken over/);
    // The intruder stops renewing; our lease keeper takes the slot back after it expires.
    await waitFor(() => listener.events.includes('regained'), 'the lease keeper to take the slot back');
    const id = generator.nextSync();
    expect(generator.decode(id).timestamp.getTime()).toBeGreaterThan(Date.now() - 1_000);
    await lease.stop(generator.lastIssuedMs);
  });

  it('records the last issued time on stop so a restart need not wait out the reach', async () => {
    const store = new MemoryWorkerLeaseStore();
    const options = { store, datacenterId: 0, candidates: [2], ttlMs: 60_000 };
    const first = await WorkerLease.acquire(options);
    expect(first.reach).toBeGreaterThan(Date.now() + 50_000);
    const lastIssuedMs = Date.now();
    await first.stop(lastIssuedMs);
    const second = await WorkerLease.acquire(options);
    expect(second.floorMs).toBe(lastIssuedMs);
    await second.stop(lastIssuedMs);
  });
});
