/**
 * A service's close stack. Whatever a service opens (Sql, Redis, a bus, a leased worker, a
 * background loop) is deferred here as it is opened, and `closeAll()` closes it in reverse: what
 * was opened last, and may use what was opened before it, stops first. `createService` runs the
 * stack once the server has drained its in-flight requests, and `defineService` runs it when a
 * start fails half way, so no service writes its own shutdown order or close-on-failure.
 */

export type Closer = () => Promise<void> | void;

/** Where a failing closer is reported; `app.log` fits. */
export interface LifecycleLogger {
  warn(fields: object, message: string): void;
}

export class Lifecycle {
  private readonly closers: { name: string; close: Closer }[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger: LifecycleLogger) {}

  /** Registers how to close something just opened; it closes before everything deferred earlier. */
  defer(name: string, close: Closer): void {
    // Closing has begun: nothing may be opened now, as its closer would never run.
    if (this.closing) throw new Error(`cannot defer closing ${name}: the service is already closing`);
    this.closers.push({ name, close });
  }

  /** The names of what is open, in the order it was opened. */
  get open(): string[] {
    return this.closers.map((closer) => closer.name);
  }

  /**
   * Closes everything in reverse order. A closer that fails is logged and the next one still runs,
   * so one stuck backend cannot leak the others. Calling it again waits for the same close.
   */
  closeAll(): Promise<void> {
    this.closing ??= this.closeInReverse();
    return this.closing;
  }

  private async closeInReverse(): Promise<void> {
    while (this.closers.length > 0) {
      const { name, close } = this.closers.pop()!;
      try {
        await close();
      } catch (error) {
        this.logger.warn({ err: error, resource: name }, 'closing failed');
      }
    }
  }
}
