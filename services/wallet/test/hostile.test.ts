import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import {
  expectForgedRequestIdHandled,
  expectProblem,
  FORGED_REQUEST_IDS,
  freshSchemaName,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccountJson, bearer, buildFromEnv, type Headers, WalletClient } from './helpers.js';

/**
 * Bad input never reaches a 500 and never moves money: amounts that are negative, zero,
 * fractional, floats, past 2^63 - 1 or not strings; unknown and mixed currencies; self-transfers;
 * someone else's account; malformed ids, keys and cursors; missing or forged tokens; every field
 * of every body missing, wrong-typed or huge. The ledger conserves money at the end.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: WalletClient;
let owner: Headers;
let mine: AccountJson;
let theirs: AccountJson;
let dollars: AccountJson;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { BATCH_MAX: '5', PAGE_MAX: '50' },
    { embedded, schema: freshSchemaName('wallet_hostile') },
  );
  client = await WalletClient.of(app);
  ({ wallet: mine } = await client.funded('me', 1_000n));
  theirs = await client.open('them');
  dollars = await client.open('them', 'USD');
  owner = await bearer('me');
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

const post = (url: string, payload: unknown, headers: Headers) =>
  ({ method: 'POST', url, payload: payload as Record<string, unknown>, headers }) as const;

function transferOf(overrides: Record<string, unknown>) {
  return { debitAccountId: mine.id, creditAccountId: theirs.id, amount: '10', currency: 'EUR', ...overrides };
}

describe('amounts', () => {
  it('refuses negative, zero, fractional, exponent, padded and oversized amounts as 400 problems', async () => {
    for (const amount of [
      '-1',
      '0',
      '00',
      '1.5',
      '1e3',
      ' 1',
      '+1',
      '0x10',
      '',
      '9223372036854775808',
      '1'.repeat(40),
      '١٢',
    ]) {
      const response = await app.inject(post('/v1/transfers', transferOf({ amount }), owner));
      expect(response.statusCode, amount).toBe(400);
      expect(['ERR_VALIDATION', 'WALLET_ERR_BAD_AMOUNT']).toContain(response.json().code);
    }
  });

  it('refuses amounts that are JSON numbers, booleans, null, arrays or objects', async () => {
    for (const amount of [10, 1.5, 2 ** 63, -1, true, null, ['10'], { value: '10' }]) {
      await expectProblem(
        app,
        post('/v1/transfers', transferOf({ amount }), owner),
        400,
        'ERR_VALIDATION',
        'amount',
      );
    }
  });

  it('accepts 2^63 - 1 minor units as an amount and refuses a balance past it', async () => {
    const top = '9223372036854775807';
    const bank = await client.open('big-bank', 'JPY', { debitsMustNotExceedCredits: false });
    const rich = await client.open('rich', 'JPY');
    const first = await client.transfer(client.operator, bank.id, rich.id, top, 'JPY');
    expect(first.statusCode, first.body).toBe(201);
    expect((await client.account(rich.id)).balances.posted).toBe(top);
    await expectProblem(
      app,
      post(
        '/v1/transfers',
        { debitAccountId: bank.id, creditAccountId: rich.id, amount: '1', currency: 'JPY' },
        client.operator,
      ),
      422,
      'WALLET_ERR_BALANCE_OVERFLOW',
    );
  });
});

describe('currencies and accounts', () => {
  it('refuses unknown, lower-case and non-money currencies', async () => {
    for (const currency of ['ABC', 'XAU', 'XTS', 'XXX']) {
      await expectProblem(
        app,
        post('/v1/transfers', transferOf({ currency }), owner),
        400,
        'WALLET_ERR_UNKNOWN_CURRENCY',
      );
      await expectProblem(
        app,
        post('/v1/accounts', { owner: 'x', currency }, client.operator),
        400,
        'WALLET_ERR_UNKNOWN_CURRENCY',
      );
    }
    for (const currency of ['eur', 'EURO', '', 'E€R', 3]) {
      await expectProblem(
        app,
        post('/v1/transfers', transferOf({ currency }), owner),
        400,
        'ERR_VALIDATION',
        'currency',
      );
    }
  });

  it('refuses a transfer whose currency differs from either account (no mixed currencies)', async () => {
    await expectProblem(
      app,
      post('/v1/transfers', transferOf({ creditAccountId: dollars.id }), owner),
      422,
      'WALLET_ERR_CURRENCY_MISMATCH',
    );
    await expectProblem(
      app,
      post('/v1/transfers', transferOf({ creditAccountId: dollars.id, currency: 'USD' }), owner),
      422,
      'WALLET_ERR_CURRENCY_MISMATCH',
    );
  });

  it("refuses self-transfers, someone else's account and unknown accounts", async () => {
    await expectProblem(
      app,
      post('/v1/transfers', transferOf({ creditAccountId: mine.id }), owner),
      422,
      'WALLET_ERR_SELF_TRANSFER',
    );
    await expectProblem(
      app,
      post('/v1/transfers', transferOf({ debitAccountId: theirs.id, creditAccountId: mine.id }), owner),
      403,
      'WALLET_ERR_NOT_OWNER',
    );
    const unknown = '00000000-0000-4000-8000-000000000000';
    await expectProblem(
      app,
      post('/v1/transfers', transferOf({ creditAccountId: unknown }), owner),
      404,
      'WALLET_ERR_ACCOUNT_NOT_FOUND',
    );
    await expectProblem(app, `/v1/accounts/${unknown}`, 401, 'ERR_UNAUTHORIZED');
    await expectProblem(
      app,
      { url: `/v1/accounts/${unknown}`, headers: owner },
      404,
      'WALLET_ERR_ACCOUNT_NOT_FOUND',
    );
  });

  it('refuses malformed ids in paths and bodies', async () => {
    const longPath = await app.inject({ url: `/v1/accounts/${'a'.repeat(200)}`, headers: owner });
    expect(longPath.statusCode).toBe(414);
    for (const id of ['x', '1', 'not-a-uuid', '%00', 'a'.repeat(100), "' OR 1=1 --"]) {
      await expectProblem(
        app,
        { url: `/v1/accounts/${encodeURIComponent(id)}`, headers: owner },
        400,
        'ERR_VALIDATION',
      );
      await expectProblem(
        app,
        { url: `/v1/transfers/${encodeURIComponent(id)}`, headers: owner },
        400,
        'ERR_VALIDATION',
      );
      await expectProblem(
        app,
        post('/v1/transfers', transferOf({ creditAccountId: id }), owner),
        400,
        'ERR_VALIDATION',
      );
    }
  });

  it('lets only an operator open accounts, and bounds every field of one', async () => {
    await expectProblem(
      app,
      post('/v1/accounts', { owner: 'me', currency: 'EUR' }, owner),
      403,
      'ERR_FORBIDDEN',
    );
    const bad = [
      {},
      { owner: 'x' },
      { currency: 'EUR' },
      { owner: '', currency: 'EUR' },
      { owner: 'a'.repeat(300), currency: 'EUR' },
      { owner: 'white space', currency: 'EUR' },
      { owner: '\ud800', currency: 'EUR' },
      { owner: 'x', currency: 'EUR', flags: { debitsMustNotExceedCredits: 'yes' } },
      {
        owner: 'x',
        currency: 'EUR',
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])),
      },
      { owner: 'x', currency: 'EUR', metadata: { k: 'v'.repeat(300) } },
      { owner: 'x', currency: 'EUR', metadata: { k: { nested: true } } },
    ];
    for (const body of bad)
      await expectProblem(app, post('/v1/accounts', body, client.operator), 400, 'ERR_VALIDATION');
  });
});

describe('transfer bodies', () => {
  it('refuses every field missing, wrong-typed or huge', async () => {
    for (const field of ['debitAccountId', 'creditAccountId', 'amount', 'currency']) {
      const body = transferOf({});
      delete (body as Record<string, unknown>)[field];
      await expectProblem(app, post('/v1/transfers', body, owner), 400, 'ERR_VALIDATION', field);
      await expectProblem(
        app,
        post('/v1/transfers', transferOf({ [field]: 12 }), owner),
        400,
        'ERR_VALIDATION',
        field,
      );
    }
    await expectProblem(
      app,
      post('/v1/transfers', transferOf({ memo: 'm'.repeat(600) }), owner),
      400,
      'ERR_VALIDATION',
      'memo',
    );
    for (const pending of [
      {},
      { timeoutMs: 0 },
      { timeoutMs: -5 },
      { timeoutMs: 1.5 },
      { timeoutMs: 10 ** 12 },
      'soon',
    ]) {
      await expectProblem(
        app,
        post('/v1/transfers', transferOf({ pending }), owner),
        400,
        'ERR_VALIDATION',
        'pending',
      );
    }
    for (const payload of ['not json', '[]', 'null', '"x"']) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/transfers',
        headers: { ...owner, 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode, payload).toBe(400);
    }
  });

  it('refuses batches that are empty, too long, or hold a bad transfer', async () => {
    await expectProblem(app, post('/v1/transfers/batch', { transfers: [] }, owner), 400, 'ERR_VALIDATION');
    await expectProblem(
      app,
      post('/v1/transfers/batch', { transfers: Array(6).fill(transferOf({})) }, owner),
      400,
      'ERR_VALIDATION',
    );
    const refused = await expectProblem(
      app,
      post('/v1/transfers/batch', { transfers: [transferOf({}), transferOf({ currency: 'USD' })] }, owner),
      422,
      'WALLET_ERR_CURRENCY_MISMATCH',
    );
    expect(refused.index).toBe(1);
    await expectProblem(
      app,
      post('/v1/transfers/batch', { transfers: [transferOf({}), transferOf({ amount: '0' })] }, owner),
      400,
      'ERR_VALIDATION',
      'amount',
    );
  });

  it('refuses malformed Idempotency-Keys', async () => {
    for (const key of ['', 'with space', 'k'.repeat(256), 'tab\there', 'é']) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/transfers',
        headers: { ...owner, 'idempotency-key': key },
        payload: transferOf({}),
      });
      expect(response.statusCode, JSON.stringify(key)).toBe(400);
    }
  });

  it('refuses post, void and reverse of transfers that cannot take them', async () => {
    const single = await client.transferOk(owner, mine.id, theirs.id, 1n);
    await expectProblem(
      app,
      post(`/v1/transfers/${single.id}/post`, undefined, owner),
      409,
      'WALLET_ERR_PENDING_NOT_OPEN',
    );
    const pending = await client.transferOk(owner, mine.id, theirs.id, 1n, 'EUR', {
      pending: { timeoutMs: 60_000 },
    });
    await expectProblem(
      app,
      post(`/v1/transfers/${pending.id}/reverse`, {}, client.operator),
      409,
      'WALLET_ERR_NOT_REVERSIBLE',
    );
    const stranger = await bearer('stranger');
    await expectProblem(
      app,
      post(`/v1/transfers/${pending.id}/post`, undefined, stranger),
      404,
      'WALLET_ERR_TRANSFER_NOT_FOUND',
    );
    const receiver = await bearer('them');
    await expectProblem(
      app,
      post(`/v1/transfers/${pending.id}/post`, undefined, receiver),
      403,
      'WALLET_ERR_NOT_OWNER',
    );
  });
});

describe('reads, tokens and headers', () => {
  it('refuses bad cursors and page sizes', async () => {
    for (const query of [
      'cursor=garbage',
      `cursor=${Buffer.from('{"a":"x"}').toString('base64url')}`,
      `cursor=${'c'.repeat(600)}`,
    ]) {
      const response = await app.inject({ url: `/v1/accounts/${mine.id}/entries?${query}`, headers: owner });
      expect(response.statusCode, query).toBe(400);
    }
    for (const limit of ['0', '-1', '51', 'x', '1.5']) {
      await expectProblem(
        app,
        { url: `/v1/accounts/${mine.id}/entries?limit=${limit}`, headers: owner },
        400,
        'ERR_VALIDATION',
      );
    }
  });

  it('refuses every route without a valid token, and the audit without the operator scope', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic eDp5' }]) {
      await expectProblem(app, { url: `/v1/accounts/${mine.id}`, headers }, 401, 'ERR_UNAUTHORIZED');
      await expectProblem(app, post('/v1/transfers', transferOf({}), headers), 401, 'ERR_UNAUTHORIZED');
    }
    await expectProblem(app, { url: '/v1/audit/conservation', headers: owner }, 403, 'ERR_FORBIDDEN');
  });

  it('survives forged request ids', async () => {
    for (const [, requestId] of FORGED_REQUEST_IDS) {
      await expectForgedRequestIdHandled(
        app,
        post('/v1/transfers', transferOf({ amount: '1' }), owner),
        requestId,
      );
    }
  });

  it('conserves money after all of the above', async () => {
    expect((await client.conservation()).ok).toBe(true);
  });
});
