import {
  createLogger,
  type EmbeddedPostgres,
  loadConfig,
  type ServiceApp,
  TokenAuthority,
} from '@sysdesign/platform';
import { expect } from 'vitest';
import { configSchema } from '../src/config.js';
import { OPERATOR_SCOPE } from '../src/routes/schemas.js';
import { buildService } from '../src/service.js';

export const TEST_AUTH_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

const quiet = process.env.WALLET_TEST_LOG === '1' ? 'error' : 'silent';

/** Builds the service the way main.ts does, from an environment, in the given schema. */
export async function buildFromEnv(
  env: Record<string, string>,
  options: { embedded?: EmbeddedPostgres; schema: string; nowMs?: () => number },
): Promise<ServiceApp> {
  const config = loadConfig(configSchema, {
    LOG_LEVEL: quiet,
    PGLITE_DIR: 'memory',
    AUTH_SECRET: TEST_AUTH_SECRET,
    ...env,
  });
  return buildService(
    config,
    {
      logger: createLogger(quiet),
      sqlSchema: options.schema,
      ...(options.embedded ? { embedded: options.embedded } : {}),
    },
    options.nowMs ? { nowMs: options.nowMs } : {},
  );
}

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

export type Headers = Record<string, string>;

/** What the tests read of an injected response. */
export interface Reply {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read response bodies field by field
  json(): any;
}

/** Bearer headers for a user (no scopes) or the operator. */
export async function bearer(subject: string, operator = false): Promise<Headers> {
  const token = await authority.issue(subject, {
    ttlSeconds: 3_600,
    scopes: operator ? [OPERATOR_SCOPE] : [],
  });
  return { authorization: `Bearer ${token}` };
}

export interface AccountJson {
  id: string;
  owner: string;
  currency: string;
  balances: Record<string, string>;
  version: string;
}

export interface TransferJson {
  id: string;
  kind: string;
  amount: string;
  debitAccountId: string;
  creditAccountId: string;
  pendingId: string | null;
  batchId: string | null;
  timeoutAt: string | null;
}

/** A small client over `inject` for the tests: the operator opens and funds, users move money. */
export class WalletClient {
  private constructor(
    readonly app: ServiceApp,
    readonly operator: Headers,
  ) {}

  static async of(app: ServiceApp): Promise<WalletClient> {
    return new WalletClient(app, await bearer('operator', true));
  }

  async open(owner: string, currency = 'EUR', flags?: Record<string, boolean>): Promise<AccountJson> {
    const response = await this.app.inject({
      method: 'POST',
      url: '/v1/accounts',
      headers: this.operator,
      payload: { owner, currency, ...(flags ? { flags } : {}) },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  /** A funding account of the currency (may go negative) and a wallet for `owner` holding `amount`. */
  async funded(
    owner: string,
    amount: bigint,
    currency = 'EUR',
  ): Promise<{ wallet: AccountJson; bank: AccountJson }> {
    const bank = await this.open(`bank-${owner}`, currency, { debitsMustNotExceedCredits: false });
    const wallet = await this.open(owner, currency);
    if (amount > 0n) await this.transferOk(this.operator, bank.id, wallet.id, amount, currency);
    return { wallet, bank };
  }

  transfer(
    headers: Headers,
    debit: string,
    credit: string,
    amount: bigint | string,
    currency = 'EUR',
    extra = {},
  ): Promise<Reply> {
    return this.app.inject({
      method: 'POST',
      url: '/v1/transfers',
      headers,
      payload: {
        debitAccountId: debit,
        creditAccountId: credit,
        amount: amount.toString(),
        currency,
        ...extra,
      },
    });
  }

  async transferOk(
    headers: Headers,
    debit: string,
    credit: string,
    amount: bigint,
    currency = 'EUR',
    extra = {},
  ) {
    const response = await this.transfer(headers, debit, credit, amount, currency, extra);
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as TransferJson;
  }

  async account(id: string): Promise<AccountJson> {
    const response = await this.app.inject({ url: `/v1/accounts/${id}`, headers: this.operator });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  async conservation(): Promise<{ ok: boolean } & Record<string, unknown>> {
    const response = await this.app.inject({ url: '/v1/audit/conservation', headers: this.operator });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }
}
