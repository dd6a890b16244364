import { describe, expect, it } from 'vitest';
import { type Clock, Loop } from '../src/index.js';
import { VirtualClock } from '../src/testing.js';

/** A promise with its resolve handle, to hold a round open. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('Loop', () => {
  it('waits intervalMs after the end of each round, and reports failed rounds to onError without stopping', async () => {
    const clock = new VirtualClock();
    const errors: unknown[] = [];
    let calls = 0;
    const loop = new Loop({
      clock,
      intervalMs: 100,
      task: async () => {
        calls++;
        if (calls === 2) throw new Error('peer down');
      },
      onError: (error) => errors.push(error),
    });
    loop.start();
    await clock.advance(350);
    expect(calls).toBe(3);
    expect(loop.failures).toBe(1);
    expect((errors[0] as Error).message).toBe('peer down');
    await loop.stop();
  });

  it('stop() resolves only after the round in flight has finished', async () => {
    const clock = new VirtualClock();
    const round = gate();
    let finished = false;
    const loop = new Loop({
      clock,
      intervalMs: 10,
      task: async () => {
        await round.opened;
        finished = true;
      },
    });
    loop.start(0);
    await clock.advance(0);
    const stopped = loop.stop();
    expect(finished).toBe(false);
    round.open();
    await stopped;
    expect(finished).toBe(true);
    expect(loop.running).toBe(false);
  });

  it('runNow() joins a round already in flight instead of starting a second one', async () => {
    const round = gate();
    let calls = 0;
    const loop = new Loop({
      clock: new VirtualClock(),
      intervalMs: 10,
      task: async () => {
        calls++;
        await round.opened;
      },
    });
    const first = loop.runNow();
    const second = loop.runNow();
    round.open();
    await Promise.all([first, second]);
    expect(calls).toBe(1);
  });

  it('unrefs its timers, so a loop alone never keeps a process alive', () => {
    let unrefs = 0;
    const clock: Clock = {
      now: () => 0,
      setTimer: () => ({ cancel() {}, unref: () => void unrefs++ }),
    };
    const loop = new Loop({ clock, intervalMs: 10, task: async () => {} });
    loop.start();
    expect(unrefs).toBe(1);
    void loop.stop();
  });
});
