import { randomBytes } from 'node:crypto';
import type { BusEvent, BusLogger, BusMessage } from '../../src/bus/index.js';

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. No fixed sleeps. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Topic and group names no other test (or earlier run against the same broker) uses. */
export function uniqueName(label: string): string {
  return `t.${label}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
}

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

/** A promise a test releases by hand, to hold a handler mid-message. */
export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Records what a subscription received; `handle` is its handler. */
export class Received<Value = unknown> {
  readonly messages: BusMessage<Value>[] = [];

  readonly handle = (message: BusMessage<Value>): void => {
    this.messages.push(message);
  };

  get count(): number {
    return this.messages.length;
  }

  ids(): Set<string> {
    return new Set(this.messages.map((message) => message.id));
  }

  values(): Value[] {
    return this.messages.map((message) => message.value);
  }
}

/** Counts bus events by type. */
export class EventCounts {
  readonly events: BusEvent[] = [];

  readonly observe = (event: BusEvent): void => {
    this.events.push(event);
  };

  of(type: BusEvent['type']): number {
    return this.events.filter((event) => event.type === type).length;
  }
}

/** Keeps what the bus logged, so a test can check a warning instead of printing it. */
export class RecordingLogger implements BusLogger {
  readonly entries: { level: string; message: string; fields: object }[] = [];

  debug(fields: object, message = ''): void {
    this.entries.push({ level: 'debug', message, fields });
  }

  info(fields: object, message = ''): void {
    this.entries.push({ level: 'info', message, fields });
  }

  warn(fields: object, message = ''): void {
    this.entries.push({ level: 'warn', message, fields });
  }

  error(fields: object, message = ''): void {
    this.entries.push({ level: 'error', message, fields });
  }

  messages(level: string): string[] {
    return this.entries.filter((entry) => entry.level === level).map((entry) => entry.message);
  }
}
