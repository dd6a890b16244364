import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName, waitFor } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildFromEnv, type Headers, WalletClient } from './helpers.js';

/**
 * The ledger's HTTP API on PGlite: accounts and balances, transfers and their entries with the
 * running balance, Idempotency-Keys, pending transfers posted, voided and timed out, linked
 * batches, reversals, and the conservation check after each. A fake clock drives the timeouts.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: WalletClient;
let alice: Headers;
let bob: Headers;
let clock = Date.UTC(2026, 0, 5, 12);
const schema = freshSchemaName('wallet_api');

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  // This replica never sweeps: a test starts a sweeping replica when it wants reservations voided.
  app = await buildFromEnv({ EXPIRY_ENABLED: 'false' }, { embedded, schema, nowMs: () => clock });
  client = await WalletClient.of(app);
  alice = await bearer('alice');
  bob = await bearer('bob');
});

/** Runs a second replica with the timeout sweeper on the same ledger until `done` holds. */
async function sweepUntil(done: () => Promise<boolean>): Promise<void> {
  const sweeper = await buildFromEnv(
    { EXPIRY_ENABLED: 'true', EXPIRY_INTERVAL_MS: '10' },
    { embedded, schema, nowMs: () => clock },
  );
  try {
    await waitFor(done, 'the sweeper voided the reservation');
  } finally {
    await sweeper.close();
  }
}

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

describe('accounts and transfers', () => {
  it('moves money between two wallets with two entries and running balances', async () => {
    const { wallet: a } = await client.funded('alice', 1_000n);
    const b = await client.open('bob');
    const transfer = await client.transferOk(alice, a.id, b.id, 300n, 'EUR', { memo: 'lunch' });
    expect(transfer).toMatchObject({
      kind: 'single',
      amount: '300',
      debitAccountId: a.id,
      creditAccountId: b.id,
    });

    expect((await client.account(a.id)).balances).toMatchObject({
      posted: '700',
      available: '700',
      pending: '0',
    });
    expect((await client.account(b.id)).balances).toMatchObject({ posted: '300' });

    const entries = await app.inject({ url: `/v1/accounts/${a.id}/entries`, headers: alice });
    expect(entries.statusCode).toBe(200);
    expect(
      entries
        .json()
        .entries.map((entry: { side: string; amount: string; balance: { posted: string } }) => [
          entry.side,
          entry.amount,
          entry.balance.posted,
        ]),
    ).toEqual([
      ['credit', '1000', '1000'],
      ['debit', '300', '700'],
    ]);
    expect((await client.conservation()).ok).toBe(true);
  });

  it('pages entries with an opaque cursor until the last page says there is no next one', async () => {
    const { wallet: a } = await client.funded('pager', 100n);
    const b = await client.open('pager-sink');
    const pager = await bearer('pager');
    for (let index = 0; index < 5; index++) await client.transferOk(pager, a.id, b.id, 1n);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : '';
      const page = await app.inject({ url: `/v1/accounts/${a.id}/entries?limit=2${query}`, headers: pager });
      const body = page.json() as {
        entries: { seq: string; balance: { posted: string } }[];
        nextCursor: string | null;
      };
      seen.push(...body.entries.map((entry) => `${entry.seq}:${entry.balance.posted}`));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['1:100', '2:99', '3:98', '4:97', '5:96', '6:95']);
  });

  it("shows an account to its owner and the operator only, and lists one's own accounts", async () => {
    const own = await client.open('carol');
    const carol = await bearer('carol');
    expect((await app.inject({ url: `/v1/accounts/${own.id}`, headers: carol })).statusCode).toBe(200);
    expect((await app.inject({ url: `/v1/accounts/${own.id}`, headers: bob })).statusCode).toBe(404);
    const list = await app.inject({ url: '/v1/accounts', headers: carol });
    expect(list.json().accounts.map((account: { id: string }) => account.id)).toEqual([own.id]);
    const peek = await app.inject({ url: '/v1/accounts?owner=carol', headers: bob });
    expect(peek.json().accounts).toEqual([]);
  });

  it('refuses to overdraw a wallet, and leaves it unchanged', async () => {
    const { wallet: a } = await client.funded('dave', 50n);
    const b = await client.open('dave-sink');
    const dave = await bearer('dave');
    const response = await client.transfer(dave, a.id, b.id, 51n);
    expect(response.statusCode).toBe(422);
    expect(response.json().code).toBe('WALLET_ERR_INSUFFICIENT_FUNDS');
    expect((await client.account(a.id)).balances.posted).toBe('50');
  });
});

describe('Idempotency-Key', () => {
  it('answers the same key and body with the first result, applied once', async () => {
    const { wallet: a } = await client.funded('erin', 100n);
    const b = await client.open('erin-sink');
    const erin = await bearer('erin');
    const headers = { ...erin, 'idempotency-key': 'pay-1' };
    const first = await client.transfer(headers, a.id, b.id, 10n);
    const again = await client.transfer(headers, a.id, b.id, 10n);
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect((await client.account(a.id)).balances.posted).toBe('90');
  });

  it('answers the same key with another body with a 409 problem', async () => {
    const { wallet: a } = await client.funded('frank', 100n);
    const b = await client.open('frank-sink');
    const headers = { ...(await bearer('frank')), 'idempotency-key': 'pay-1' };
    expect((await client.transfer(headers, a.id, b.id, 10n)).statusCode).toBe(201);
    const other = await client.transfer(headers, a.id, b.id, 11n);
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('WALLET_ERR_IDEMPOTENCY_CONFLICT');
    expect((await client.account(a.id)).balances.posted).toBe('90');
  });

  it('answers a retry that reaches another replica (or this one restarted) from the database, not memory', async () => {
    const { wallet: a } = await client.funded('retry', 100n);
    const b = await client.open('retry-sink');
    const headers = { ...(await bearer('retry')), 'idempotency-key': 'after-restart' };
    const first = await client.transfer(headers, a.id, b.id, 10n);
    const replica = await buildFromEnv({ EXPIRY_ENABLED: 'false' }, { embedded, schema, nowMs: () => clock });
    try {
      const again = await (await WalletClient.of(replica)).transfer(headers, a.id, b.id, 10n);
      expect(again.json()).toEqual(first.json());
      expect(again.headers['idempotent-replayed']).toBe('true');
    } finally {
      await replica.close();
    }
    expect((await client.account(a.id)).balances.posted).toBe('90');
  });

  it('applies 20 concurrent requests with one key once', async () => {
    const { wallet: a } = await client.funded('gina', 100n);
    const b = await client.open('gina-sink');
    const headers = { ...(await bearer('gina')), 'idempotency-key': 'same' };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => client.transfer(headers, a.id, b.id, 60n)),
    );
    expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((response) => response.json().id)).size).toBe(1);
    expect((await client.account(a.id)).balances.posted).toBe('40');
  });
});

describe('two-phase transfers', () => {
  it('reserves on pending, then moves the money on post', async () => {
    const { wallet: a } = await client.funded('hank', 100n);
    const b = await client.open('hank-sink');
    const hank = await bearer('hank');
    const pending = await client.transferOk(hank, a.id, b.id, 70n, 'EUR', { pending: { timeoutMs: 60_000 } });
    expect((await client.account(a.id)).balances).toMatchObject({
      posted: '100',
      available: '30',
      pending: '-70',
    });
    // The reservation counts: a second spend past what is available is refused.
    expect((await client.transfer(hank, a.id, b.id, 31n)).statusCode).toBe(422);

    const post = await app.inject({ method: 'POST', url: `/v1/transfers/${pending.id}/post`, headers: hank });
    expect(post.statusCode, post.body).toBe(201);
    expect(post.json()).toMatchObject({ kind: 'post', pendingId: pending.id, amount: '70' });
    expect((await client.account(a.id)).balances).toMatchObject({
      posted: '30',
      available: '30',
      pending: '0',
    });
    expect((await client.account(b.id)).balances).toMatchObject({ posted: '70', pending: '0' });

    const twice = await app.inject({
      method: 'POST',
      url: `/v1/transfers/${pending.id}/void`,
      headers: hank,
    });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ code: 'WALLET_ERR_PENDING_NOT_OPEN', state: 'posted' });
    expect((await client.conservation()).ok).toBe(true);
  });

  it('releases the reservation on void', async () => {
    const { wallet: a } = await client.funded('ivy', 100n);
    const b = await client.open('ivy-sink');
    const ivy = await bearer('ivy');
    const pending = await client.transferOk(ivy, a.id, b.id, 70n, 'EUR', { pending: { timeoutMs: 60_000 } });
    const voided = await app.inject({
      method: 'POST',
      url: `/v1/transfers/${pending.id}/void`,
      headers: ivy,
    });
    expect(voided.statusCode).toBe(201);
    expect((await client.account(a.id)).balances).toMatchObject({
      posted: '100',
      available: '100',
      pending: '0',
    });
    expect((await client.account(b.id)).balances).toMatchObject({ posted: '0', pending: '0' });
  });

  it('voids a reservation at its timeout, after which a post is refused', async () => {
    const { wallet: a } = await client.funded('jack', 100n);
    const b = await client.open('jack-sink');
    const jack = await bearer('jack');
    const pending = await client.transferOk(jack, a.id, b.id, 70n, 'EUR', { pending: { timeoutMs: 5_000 } });
    clock += 5_000;
    // Due but not yet swept: the post is refused all the same.
    const late = await app.inject({ method: 'POST', url: `/v1/transfers/${pending.id}/post`, headers: jack });
    expect(late.json().code).toBe('WALLET_ERR_PENDING_EXPIRED');

    await sweepUntil(async () => (await client.account(a.id)).balances.available === '100');
    expect((await client.account(a.id)).balances).toMatchObject({
      posted: '100',
      available: '100',
      pending: '0',
    });
    const after = await app.inject({
      method: 'POST',
      url: `/v1/transfers/${pending.id}/post`,
      headers: jack,
    });
    expect(after.json()).toMatchObject({ code: 'WALLET_ERR_PENDING_NOT_OPEN', state: 'voided' });
    expect((await client.conservation()).ok).toBe(true);
  });
});

describe('linked batches', () => {
  it('applies every transfer of a batch in order, in one commit', async () => {
    const { wallet: a } = await client.funded('kate', 100n);
    const b = await client.open('kate-b');
    const c = await client.open('kate-c');
    const kate = await bearer('kate');
    const response = await app.inject({
      method: 'POST',
      url: '/v1/transfers/batch',
      headers: kate,
      payload: {
        transfers: [
          { debitAccountId: a.id, creditAccountId: b.id, amount: '60', currency: 'EUR' },
          { debitAccountId: a.id, creditAccountId: c.id, amount: '40', currency: 'EUR' },
        ],
      },
    });
    expect(response.statusCode, response.body).toBe(201);
    const { batchId, transfers } = response.json();
    expect(transfers.map((transfer: { batchId: string }) => transfer.batchId)).toEqual([batchId, batchId]);
    expect((await client.account(a.id)).balances.posted).toBe('0');
  });

  it('applies none when one is refused, naming the refused one', async () => {
    const { wallet: a } = await client.funded('liam', 100n);
    const b = await client.open('liam-b');
    const liam = await bearer('liam');
    const response = await app.inject({
      method: 'POST',
      url: '/v1/transfers/batch',
      headers: liam,
      payload: {
        transfers: [
          { debitAccountId: a.id, creditAccountId: b.id, amount: '60', currency: 'EUR' },
          { debitAccountId: a.id, creditAccountId: b.id, amount: '41', currency: 'EUR' },
        ],
      },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ code: 'WALLET_ERR_INSUFFICIENT_FUNDS', index: 1 });
    expect((await client.account(a.id)).balances.posted).toBe('100');
    expect((await client.account(b.id)).balances.posted).toBe('0');
  });
});

describe('reversals', () => {
  it('reverses a posted transfer with a new transfer back, once, leaving the original as it was', async () => {
    const { wallet: a } = await client.funded('mia', 100n);
    const b = await client.open('mia-b');
    const original = await client.transferOk(await bearer('mia'), a.id, b.id, 30n);
    const reverse = () =>
      app.inject({
        method: 'POST',
        url: `/v1/transfers/${original.id}/reverse`,
        headers: client.operator,
        payload: {},
      });
    const reversal = await reverse();
    expect(reversal.statusCode, reversal.body).toBe(201);
    expect(reversal.json()).toMatchObject({
      kind: 'single',
      reversesId: original.id,
      debitAccountId: b.id,
      creditAccountId: a.id,
      amount: '30',
    });
    expect((await client.account(a.id)).balances.posted).toBe('100');
    const again = await reverse();
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('WALLET_ERR_NOT_REVERSIBLE');
    const stored = await app.inject({ url: `/v1/transfers/${original.id}`, headers: client.operator });
    expect(stored.json()).toEqual(original);
  });

  it('lets only an operator reverse', async () => {
    const { wallet: a } = await client.funded('noah', 100n);
    const b = await client.open('noah-b');
    const noah = await bearer('noah');
    const original = await client.transferOk(noah, a.id, b.id, 30n);
    const response = await app.inject({
      method: 'POST',
      url: `/v1/transfers/${original.id}/reverse`,
      headers: noah,
      payload: {},
    });
    expect(response.statusCode).toBe(403);
  });
});

describe('ownership', () => {
  it("refuses to move money out of someone else's account, and hides others' transfers", async () => {
    const { wallet: a } = await client.funded('olga', 100n);
    const b = await client.open('olga-b');
    const response = await client.transfer(bob, a.id, b.id, 10n);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('WALLET_ERR_NOT_OWNER');
    const transfer = await client.transferOk(await bearer('olga'), a.id, b.id, 10n);
    expect((await app.inject({ url: `/v1/transfers/${transfer.id}`, headers: bob })).statusCode).toBe(404);
    expect(
      (await app.inject({ url: `/v1/transfers/${transfer.id}`, headers: await bearer('olga') })).statusCode,
    ).toBe(200);
  });

  it('keeps an audit trail: who created each transfer and in which request', async () => {
    const { wallet: a } = await client.funded('pia', 100n);
    const b = await client.open('pia-b');
    const response = await client.transfer(
      { ...(await bearer('pia')), 'x-request-id': 'req-pia-1' },
      a.id,
      b.id,
      5n,
    );
    expect(response.json()).toMatchObject({ createdBy: 'pia', requestId: 'req-pia-1' });
  });
});

describe('immutability', () => {
  it('has the database refuse an edit of a transfer or an entry', async () => {
    const { wallet: a } = await client.funded('quinn', 100n);
    const sql = await embedded.forSchema(schema);
    await expect(sql.query('UPDATE transfers SET amount = 1')).rejects.toThrow(/immutable/);
    await expect(sql.query('DELETE FROM entries WHERE account_id = $1', [a.id])).rejects.toThrow(/immutable/);
  });
});
