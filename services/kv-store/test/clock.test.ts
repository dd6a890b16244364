import { createClock } from '@sysdesign/platform';
import { freePort, tempDir } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { TestNode } from './helpers.js';

/**
 * The node reads wall time through the platform clock: a node whose clock is an hour ahead stamps
 * its writes (the dots' times a 300 shows as `writtenAt`) and its incarnation an hour ahead, which
 * is what SYSDESIGN_CLOCK_OFFSET_MS does to a node in the fault suite.
 */

const HOUR_MS = 60 * 60 * 1000;
const SLACK_MS = 60_000;

let node: TestNode | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

describe('a node with a skewed clock', () => {
  it('stamps its writes and its incarnation with the skewed time', async () => {
    node = new TestNode({
      name: 'kv-skewed',
      port: await freePort(),
      peerPort: await freePort(),
      dataDir: await tempDir('kv-clock-'),
      seeds: [],
      env: {},
      clock: createClock({ offsetMs: HOUR_MS }),
    });
    await node.start();
    // Two blind writes are siblings: the 300 lists each with its writer's time.
    expect((await node.put('stamped', 'one')).status).toBe(204);
    expect((await node.put('stamped', 'two')).status).toBe(204);
    const read = await node.get('stamped');
    expect(read.status).toBe(300);
    const { siblings } = (await read.json()) as { siblings: { writtenAt: string }[] };
    expect(siblings).toHaveLength(2);
    for (const sibling of siblings) {
      expect(Math.abs(Date.parse(sibling.writtenAt) - (Date.now() + HOUR_MS))).toBeLessThan(SLACK_MS);
    }
    expect(node.node.incarnation * 1000).toBeGreaterThan(Date.now() + HOUR_MS - SLACK_MS);
  });
});
