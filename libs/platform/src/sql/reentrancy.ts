import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Inside `tx(work)`, a query on the outer `Sql` instead of the transaction handle would run
 * outside the transaction (pg) or wait forever on the single connection (PGlite). Both are
 * programmer errors, so both adapters detect them and throw.
 */
export class TransactionScope {
  private readonly storage = new AsyncLocalStorage<object>();

  run<T>(owner: object, work: () => Promise<T>): Promise<T> {
    return this.storage.run(owner, work);
  }

  assertOutside(owner: object): void {
    if (this.storage.getStore() === owner) {
      throw new Error('query on the Sql handle inside tx(): use the transaction handle passed to the callback');
    }
  }
}
