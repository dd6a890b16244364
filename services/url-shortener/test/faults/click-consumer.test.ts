import {
  appendReport,
  checkExactlyOnce,
  faultRunSettings,
  History,
  Nemesis,
  renderReport,
  runDurationMs,
  stretchedTimeoutMs,
  toFaultRecords,
} from '@sysdesign/testkit/faults';
import { describe, expect, it } from 'vitest';
import { clickInWaves, LinkPool, NodeLife } from './click-client.js';
import { countedClicks, readMetric, startServiceNode } from './service-node.js';

/**
 * The click consumer under a seeded nemesis: the whole process paused (SIGSTOP) for longer than the
 * flush interval, so every timer is overdue when it wakes, and killed (SIGKILL) while its
 * aggregator holds clicks counted in memory but not flushed, then started again on the same
 * DATA_DIR (bus and PGlite). Each click that reached the bus must be counted exactly once.
 * FAULT_SEED replays a run, FAULT_SECONDS stretches it, FAULT_REPORT names a file for its
 * markdown report.
 */

const SETTINGS = faultRunSettings();
const SEED = SETTINGS.seed;
const FLUSH_INTERVAL_MS = 1_000;
/** The CI length; FAULT_SECONDS stretches it. */
const CI_RUN_MS = 14_000;
const RUN_MS = runDurationMs(SETTINGS, CI_RUN_MS);
/** Each link is clicked once: made before the run, enough for its CI length. */
const LINKS = 1_500;
/** A longer run makes more as it goes, this many at a time. */
const LINK_BATCH = 500;

type Fault = 'pause' | 'kill';

describe('the click consumer, paused and killed mid-batch', () => {
  it(
    'counts each click that reached the bus exactly once',
    async () => {
      const node = await startServiceNode({
        CLICK_LINGER_MS: '2',
        CLICK_BATCH_MAX: '10',
        // The aggregator holds clicks between flushes, so a kill lands with clicks held. An idle
        // flush far above the default (20 ms) widens that window; not as wide as the interval,
        // because a partition hands over one message at a time: while every partition waits on the
        // idle flush, consumption runs at (partitions x CLICK_BATCH_MAX) clicks per FLUSH_IDLE_MS,
        // and at one second it could not catch up with the clients, nor replay a restart's backlog.
        FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS),
        FLUSH_IDLE_MS: '150',
        FLUSH_MAX_CLICKS: '150',
      });
      const links = new LinkPool(node, LINK_BATCH);
      await links.fill(LINKS);
      const nemesis = new Nemesis<Fault>({
        seed: SEED,
        durationMs: RUN_MS,
        menu: [
          { fault: 'pause', weight: 1, durationMs: { minMs: FLUSH_INTERVAL_MS + 200, maxMs: 2_500 } },
          { fault: 'kill', weight: 1, durationMs: { minMs: 100, maxMs: 500 } },
        ],
        targets: ['url-shortener'],
        faultDurationMs: { minMs: 100, maxMs: 500 },
        gapMs: { minMs: 1_000, maxMs: 2_500 },
        quiesceMs: FLUSH_INTERVAL_MS * 2,
      });
      const history = new History();
      const life = new NodeLife();
      const heldAtKills: number[] = [];
      let running = true;
      const clients = clickInWaves({
        node,
        life,
        history,
        links,
        waveSize: 10,
        waveGapMs: 40,
        isRunning: () => running,
      });
      const injected = await nemesis.run({
        pause: () => {
          node.process.pause();
          return () => node.process.resume();
        },
        kill: async () => {
          heldAtKills.push(await readMetric(node, 'urlshort_clicks_held'));
          life.down();
          await node.process.kill();
          return async () => {
            await node.process.start();
            life.restarted();
          };
        },
      });
      running = false;
      await clients;

      await waitQuiet(node);
      for (const read of [1, 2]) {
        history.invoke('reader', { f: 'effects' });
        history.ok('reader', await countedClicks(node, links.codes));
        if (read === 1) await new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS));
      }
      const result = checkExactlyOnce(history.events());
      const report = renderReport({
        title: 'URL shortener: click consumer paused and killed mid-batch',
        seed: SEED,
        faults: toFaultRecords(injected),
        history: history.events(),
        results: { 'exactly once': result },
      });
      appendReport(SETTINGS, report);

      expect(result.anomalies, `${nemesis.describe()}\n${report}`).toEqual([]);
      const acknowledged = history.events().filter((event) => event.f === 'submit' && event.type === 'ok');
      expect(acknowledged.length).toBeGreaterThan(200);
      // The schedule comes from the seed: it pauses and kills, and a kill lands with clicks held.
      expect(injected.map((fault) => fault.fault)).toEqual(expect.arrayContaining(['pause', 'kill']));
      expect(Math.max(...heldAtKills)).toBeGreaterThan(0);
    },
    stretchedTimeoutMs(SETTINGS, { ciRunMs: CI_RUN_MS, ciTimeoutMs: 120_000 }),
  );
});

/**
 * Every click published is flushed: nothing held, twice a flush interval apart. A restart replays
 * the backlog first, so the wait lasts as long as the consumer makes progress, and fails only
 * when it stops making any.
 */
async function waitQuiet(node: Parameters<typeof readMetric>[0]): Promise<void> {
  const stallLimit = 10;
  let stalled = 0;
  let aggregated = await readMetric(node, 'urlshort_clicks_aggregated_total');
  while (stalled < stallLimit) {
    const held = await readMetric(node, 'urlshort_clicks_held');
    await new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS));
    if (held === 0 && (await readMetric(node, 'urlshort_clicks_held')) === 0) return;
    const now = await readMetric(node, 'urlshort_clicks_aggregated_total');
    stalled = now > aggregated ? 0 : stalled + 1;
    aggregated = now;
  }
  throw new Error(`the aggregator stopped making progress with clicks held (${aggregated} aggregated)`);
}
