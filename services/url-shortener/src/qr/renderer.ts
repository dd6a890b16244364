import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * QR images rendered on worker threads, so that an image (tens of milliseconds of CPU for a PNG)
 * never holds the event loop the redirects run on. At most `threads` renders run at once and at
 * most `queueMax` wait; a render beyond that is refused at once with `QrBusyError` (503 with
 * Retry-After) rather than queued without bound. Threads start on the first render.
 *
 * The worker's code is a string evaluated by the thread, not a file: it then runs the same from
 * the TypeScript sources and from the built package, and loads the `qrcode` module this package
 * resolves.
 */

export type QrFormat = 'svg' | 'png';

export interface QrRenderRequest {
  text: string;
  format: QrFormat;
  sizePx: number;
  marginModules: number;
}

export class QrBusyError extends Error {
  override name = 'QrBusyError';
  readonly retryAfterSeconds = 1;
}

export interface QrRendererOptions {
  threads: number;
  queueMax: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const QRCode = require(workerData.qrcodePath);
parentPort.on('message', async ({ id, text, format, sizePx, marginModules }) => {
  const options = { type: format, width: sizePx, margin: marginModules, errorCorrectionLevel: 'M' };
  try {
    const image = format === 'svg' ? await QRCode.toString(text, options) : await QRCode.toBuffer(text, options);
    parentPort.postMessage({ id, image });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

const QRCODE_PATH = createRequire(import.meta.url).resolve('qrcode');

interface Job {
  id: number;
  request: QrRenderRequest;
  resolve(image: string | Buffer): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  job: Job | undefined;
}

export class QrRenderer {
  private readonly threads: Thread[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: QrRendererOptions) {}

  /** Renders on a free thread, or waits in the bounded queue; throws QrBusyError when it is full. */
  render(request: QrRenderRequest): Promise<string | Buffer> {
    if (this.closed) return Promise.reject(new QrBusyError('the QR renderer is shutting down'));
    const idle = this.idleThread();
    if (idle === undefined && this.queue.length >= this.options.queueMax) {
      return Promise.reject(
        new QrBusyError(`${this.options.threads} QR renders running and ${this.queue.length} waiting`),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, request, resolve, reject };
      if (idle) this.start(idle, job);
      else this.queue.push(job);
    });
  }

  private idleThread(): Thread | undefined {
    const idle = this.threads.find((thread) => thread.job === undefined);
    if (idle !== undefined || this.threads.length >= this.options.threads) return idle;
    return this.spawn();
  }

  private spawn(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { qrcodePath: QRCODE_PATH } });
    worker.unref();
    const thread: Thread = { worker, job: undefined };
    worker.on('message', (reply: { id: number; image?: string | Uint8Array; error?: string }) =>
      this.finish(thread, reply),
    );
    worker.on('error', (error) => this.lose(thread, error));
    worker.on('exit', () => this.lose(thread, new Error('the QR render thread exited')));
    this.threads.push(thread);
    return thread;
  }

  private start(thread: Thread, job: Job): void {
    thread.job = job;
    thread.worker.postMessage({ id: job.id, ...job.request });
  }

  private finish(thread: Thread, reply: { id: number; image?: string | Uint8Array; error?: string }): void {
    const job = thread.job;
    thread.job = undefined;
    if (job !== undefined && job.id === reply.id) {
      if (reply.error !== undefined || reply.image === undefined)
        job.reject(new Error(`QR rendering failed: ${reply.error}`));
      else if (typeof reply.image === 'string') job.resolve(reply.image);
      else job.resolve(Buffer.from(reply.image.buffer, reply.image.byteOffset, reply.image.byteLength));
    }
    const next = this.queue.shift();
    if (next) this.start(thread, next);
  }

  /** A thread that failed or exited: its job fails, and the next render starts a new thread. */
  private lose(thread: Thread, error: Error): void {
    const index = this.threads.indexOf(thread);
    if (index === -1) return;
    this.threads.splice(index, 1);
    thread.job?.reject(error);
    thread.job = undefined;
    const next = this.queue.shift();
    if (next && !this.closed) {
      const idle = this.idleThread();
      if (idle) this.start(idle, next);
      else this.queue.unshift(next);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new QrBusyError('the QR renderer is shutting down'));
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
    for (const thread of threads) thread.job?.reject(new QrBusyError('the QR renderer is shutting down'));
  }
}
