import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Inside `tx(work)`, a query on the outer `Sql` instead of the transaction handle would run
 * outside the transaction (pg) or wait forever on the single connection (PGlite). Both are
 * programmer errors, so both adapters detect them and throw.
 *
 * The detection needs AsyncLocalStorage, which turns on promise hooks for the whole process and
 * costs every request a little. It is an assertion, so it runs in development and tests and is
 * off with NODE_ENV=production (the images set it).
 */
const ASSERTIONS_ON = process.env.NODE_ENV !== 'production';

export class TransactionScope {
  private readonly storage = ASSERTIONS_ON ? new AsyncLocalStorage<object>() : undefined;

  run<T>(owner: object, work: () => Promise<T>): Promise<T> {
    return this.storage ? this.storage.run(owner, work) : work();
  }

  assertOutside(owner: object): void {
    if (this.storage?.getStore() === owner) {
      throw new Error(
        'query on the Sql handle inside tx(): use the transaction handle passed to the callback',
      );
    }
  }
}
