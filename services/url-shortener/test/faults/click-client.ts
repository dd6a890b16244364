import { waitFor } from '@sysdesign/testkit';
import type { History } from '@sysdesign/testkit/faults';
import { createLinks, REQUEST_TIMEOUT_MS, readMetric, type ServiceNode } from './service-node.js';

/**
 * Clients that click, each click on a link of its own so that the link's counted total says how
 * many times that one click was counted (clicks carry no id the API could return). A redirect's
 * 302 only means the click is in the publisher's linger buffer, which a crash may lose by design;
 * the claim is about clicks that reached the bus, so a click is acknowledged (`ok`) only once the
 * node's published counter covers every click sent to this life of the process. A click sent to a
 * life that ended before that is `unknown`: counted once or not at all.
 */

const CONFIRM_TIMEOUT_MS = 5_000;

/** Whether the node is up, and which life of it: a restart starts a new published counter. */
export class NodeLife {
  generation = 0;
  up = true;
  sentInLife = 0;
  private waiters: (() => void)[] = [];

  down(): void {
    this.up = false;
  }

  restarted(): void {
    this.generation++;
    this.sentInLife = 0;
    this.up = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves when the node is up (at once if it is). */
  async whenUp(): Promise<void> {
    if (this.up) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/**
 * The links the clients click, each once. The first batch is made before the run; when the
 * clients have used them all (a long run), they make another batch while the node is up, so the
 * set-up does not grow with the run. A batch cut short by a kill is dropped and made again, on
 * fresh URLs: codes of links whose creation was not seen are never clicked.
 */
export class LinkPool {
  /** Every code the pool handed out or still holds: what the final reads count. */
  readonly codes: string[] = [];
  private taken = 0;
  private nextUrlIndex = 0;

  constructor(
    private readonly node: ServiceNode,
    private readonly batchSize: number,
  ) {}

  async fill(count: number): Promise<void> {
    const firstIndex = this.nextUrlIndex;
    this.nextUrlIndex += count;
    this.codes.push(...(await createLinks(this.node, count, { firstIndex })));
  }

  /** The next `count` codes, making a batch when too few are left; undefined once the run is over. */
  async take(count: number, life: NodeLife, isRunning: () => boolean): Promise<string[] | undefined> {
    while (this.codes.length - this.taken < count) {
      if (!isRunning()) return undefined;
      await life.whenUp();
      await this.fill(this.batchSize).catch(() => undefined);
    }
    const codes = this.codes.slice(this.taken, this.taken + count);
    this.taken += count;
    return codes;
  }
}

export interface ClickRunOptions {
  node: ServiceNode;
  life: NodeLife;
  history: History;
  /** Where the codes to click come from; each is clicked at most once. */
  links: LinkPool;
  waveSize: number;
  /** Pause between waves, which paces the clicks over the run. */
  waveGapMs: number;
  isRunning: () => boolean;
}

/** Clicks in waves of concurrent redirects until the run ends. */
export async function clickInWaves(options: ClickRunOptions): Promise<void> {
  while (options.isRunning()) {
    await options.life.whenUp();
    const codes = await options.links.take(options.waveSize, options.life, options.isRunning);
    if (codes === undefined) return;
    await clickWave(options, codes);
    await new Promise((resolve) => setTimeout(resolve, options.waveGapMs));
  }
}

async function clickWave(options: ClickRunOptions, codes: readonly string[]): Promise<void> {
  const { history, life, node } = options;
  const generation = life.generation;
  const processes = codes.map((_, slot) => `clicker-${slot}`);
  for (const [slot, code] of codes.entries())
    history.invoke(processes[slot] as string, { f: 'submit', value: code });
  life.sentInLife += codes.length;
  const statuses = await Promise.all(
    codes.map((code) =>
      fetch(`${node.base}/${code}`, {
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      }).then(
        (response) => response.status,
        () => undefined,
      ),
    ),
  );
  const confirmed =
    statuses.every((status) => status === 302) && (await confirmPublished(node, life, generation));
  for (const [slot, status] of statuses.entries()) {
    const process = processes[slot] as string;
    if (confirmed) history.ok(process);
    else if (status === 404 || status === 410) history.fail(process);
    else history.unknown(process);
  }
}

/** True once every click sent to this life is on the bus; false if the life ends first. */
async function confirmPublished(node: ServiceNode, life: NodeLife, generation: number): Promise<boolean> {
  const expected = life.sentInLife;
  try {
    await waitFor(
      async () => {
        if (life.generation !== generation || !life.up) throw new Error('the node was killed');
        return (await readMetric(node, 'urlshort_clicks_published_total')) >= expected;
      },
      `${expected} clicks published`,
      { timeoutMs: CONFIRM_TIMEOUT_MS, intervalMs: 5 },
    );
    return life.generation === generation;
  } catch {
    return false;
  }
}
