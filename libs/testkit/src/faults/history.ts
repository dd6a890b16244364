/**
 * The history of a fault run, as Jepsen records it: each client process invokes one operation at
 * a time and then completes it as `ok` (it happened), `fail` (it certainly did not happen) or
 * `unknown` (it timed out: it may or may not have happened). Checkers read the whole history after
 * the run; it is written as JSONL so a failing run can be kept and checked again.
 */

export type EventType = 'invoke' | 'ok' | 'fail' | 'unknown';

/** What a client asks for: `f` names the operation (`write`, `read`, `cas`, `transfer`...). */
export interface Operation {
  f: string;
  key?: string | undefined;
  value?: unknown;
  /** The replica the operation went to, for checkers that compare replicas (convergence). */
  node?: string | undefined;
}

export interface HistoryEvent extends Operation {
  /** Position in the history: the real order of events, which checkers use for "before". */
  index: number;
  type: EventType;
  process: string;
  timeMs: number;
}

/** One operation with its invocation and completion paired; `complete` is absent while pending. */
export interface PairedOperation {
  process: string;
  invoke: HistoryEvent;
  complete?: HistoryEvent | undefined;
}

const eventTypes: readonly EventType[] = ['invoke', 'ok', 'fail', 'unknown'];

export class History {
  private readonly recorded: HistoryEvent[] = [];
  private readonly pending = new Map<string, HistoryEvent>();
  private readonly startedAtMs: number;

  /** `now` is read for each event; times are written relative to the history's creation. */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.startedAtMs = now();
  }

  /** Records that `process` invokes `operation`; a process has at most one operation in flight. */
  invoke(process: string, operation: Operation): void {
    if (this.pending.has(process))
      throw new Error(`process ${process} invoked while an operation is in flight`);
    const event = this.append('invoke', process, operation);
    this.pending.set(process, event);
  }

  /**
   * The operation happened; `value` is its result when it has one (the value a read saw). Without
   * one, the completion repeats the invoked value, so a write's completion shows what it wrote.
   */
  ok(process: string, value?: unknown): void {
    this.complete('ok', process, value);
  }

  /** The operation certainly did not happen. */
  fail(process: string, value?: unknown): void {
    this.complete('fail', process, value);
  }

  /** The outcome is not known (a timeout, a reset connection): it may or may not have happened. */
  unknown(process: string): void {
    this.complete('unknown', process, undefined);
  }

  /**
   * Runs `action` as one operation of `process`: `ok` with its result, `fail` when it throws an
   * error that `isDefiniteFailure` recognises, `unknown` for any other error (the safe default).
   */
  async run<Result>(
    process: string,
    operation: Operation,
    action: () => Promise<Result>,
    isDefiniteFailure: (error: unknown) => boolean = () => false,
  ): Promise<Result | undefined> {
    this.invoke(process, operation);
    try {
      const result = await action();
      this.ok(process, result);
      return result;
    } catch (error) {
      if (isDefiniteFailure(error)) this.fail(process);
      else this.unknown(process);
      return undefined;
    }
  }

  events(): readonly HistoryEvent[] {
    return this.recorded;
  }

  toJsonl(): string {
    return historyToJsonl(this.recorded);
  }

  private complete(type: EventType, process: string, value: unknown): void {
    const invocation = this.pending.get(process);
    if (invocation === undefined)
      throw new Error(`process ${process} completed an operation it never invoked`);
    this.pending.delete(process);
    const result = value === undefined ? invocation.value : value;
    this.append(type, process, {
      f: invocation.f,
      key: invocation.key,
      node: invocation.node,
      value: result,
    });
  }

  private append(type: EventType, process: string, operation: Operation): HistoryEvent {
    const event: HistoryEvent = {
      index: this.recorded.length,
      type,
      process,
      timeMs: this.now() - this.startedAtMs,
      f: operation.f,
      ...(operation.key === undefined ? {} : { key: operation.key }),
      ...(operation.node === undefined ? {} : { node: operation.node }),
      ...(operation.value === undefined ? {} : { value: operation.value }),
    };
    this.recorded.push(event);
    return event;
  }
}

export function historyToJsonl(events: readonly HistoryEvent[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join('');
}

/** Reads a JSONL history back; a malformed line is refused with its line number. */
export function parseHistory(jsonl: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = jsonl.split('\n');
  for (const [lineIndex, line] of lines.entries()) {
    if (line.trim() === '') continue;
    events.push(parseEvent(line, lineIndex + 1));
  }
  return events;
}

function parseEvent(line: string, lineNumber: number): HistoryEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`history line ${lineNumber} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error(`history line ${lineNumber} is not an object`);
  const event = parsed as Record<string, unknown>;
  const valid =
    Number.isInteger(event.index) &&
    eventTypes.includes(event.type as EventType) &&
    typeof event.process === 'string' &&
    typeof event.timeMs === 'number' &&
    typeof event.f === 'string' &&
    (event.key === undefined || typeof event.key === 'string') &&
    (event.node === undefined || typeof event.node === 'string');
  if (!valid) throw new Error(`history line ${lineNumber} is not a history event`);
  return event as unknown as HistoryEvent;
}

/**
 * Pairs each invocation with its process's next completion, in history order. A completion with
 * no invocation before it is a malformed history and is refused.
 */
export function pairOperations(events: readonly HistoryEvent[]): PairedOperation[] {
  const operations: PairedOperation[] = [];
  const inFlight = new Map<string, PairedOperation>();
  for (const event of events) {
    if (event.type === 'invoke') {
      const operation: PairedOperation = { process: event.process, invoke: event };
      inFlight.set(event.process, operation);
      operations.push(operation);
      continue;
    }
    const operation = inFlight.get(event.process);
    if (operation === undefined)
      throw new Error(`event ${event.index}: process ${event.process} completed nothing`);
    operation.complete = event;
    inFlight.delete(event.process);
  }
  return operations;
}

/** The events of `operations`, in history order: the excerpt an anomaly shows. */
export function excerptOf(operations: readonly PairedOperation[]): HistoryEvent[] {
  const events = operations.flatMap((operation) =>
    operation.complete === undefined ? [operation.invoke] : [operation.invoke, operation.complete],
  );
  return events.sort((first, second) => first.index - second.index);
}

/** A stable text form of a value, so that `{a:1,b:2}` and `{b:2,a:1}` compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([first], [second]) =>
      first < second ? -1 : first > second ? 1 : 0,
    );
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
