import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import type { Ledger } from '../ledger.js';
import { accountView, entryView } from '../present.js';
import { callerOf, created } from './context.js';
import {
  accountId,
  accountResponse,
  createAccountBody,
  decodeCursor,
  encodeCursor,
  entryResponse,
  idempotencyHeaders,
  OPERATOR_SCOPE,
  owner,
  pageQuery,
} from './schemas.js';

export interface AccountRoutesOptions {
  ledger: Ledger;
  authority: TokenAuthority;
  pageMax: number;
}

const accountParams = z.object({ id: accountId });
const SEQ = /^[0-9]{1,19}$/;
const ACCOUNT_ID = /^[0-9a-f-]{36}$/;

export function registerAccountRoutes(app: ServiceApp, options: AccountRoutesOptions): void {
  const { ledger } = options;
  const user = requireUser(options.authority);
  const operator = requireUser(options.authority, { scopes: [OPERATOR_SCOPE] });
  app.post(
    '/v1/accounts',
    {
      preHandler: operator,
      schema: {
        tags: ['accounts'],
        summary: 'Open an account (operator)',
        description:
          'An account holds one ISO 4217 currency for one owner. By default its debits may not exceed its credits ' +
          '(it cannot go below zero); a funding account sets that flag to false. WALLET_ERR_UNKNOWN_CURRENCY, ' +
          'WALLET_ERR_IDEMPOTENCY_CONFLICT.',
        headers: idempotencyHeaders,
        body: createAccountBody,
        response: { 201: accountResponse },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const answer = await ledger.createAccount(
        callerOf(request),
        {
          owner: body.owner,
          currency: body.currency,
          debitsMustNotExceedCredits: body.flags.debitsMustNotExceedCredits,
          creditsMustNotExceedDebits: body.flags.creditsMustNotExceedDebits,
          metadata: body.metadata,
        },
        request.headers['idempotency-key'],
      );
      return created(reply, answer) as z.infer<typeof accountResponse>;
    },
  );
  app.get(
    '/v1/accounts',
    {
      preHandler: user,
      schema: {
        tags: ['accounts'],
        summary: "List an owner's accounts",
        description: 'Your own accounts; an operator may name any owner. Pages in id order.',
        querystring: pageQuery(options.pageMax).extend({ owner: owner.optional() }),
        response: {
          200: z.object({ accounts: z.array(accountResponse), nextCursor: z.string().nullable() }),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const after = decodeCursor(request.query.cursor, ACCOUNT_ID) ?? '';
      const accounts = await ledger.accountsOf(
        caller,
        request.query.owner ?? caller.id,
        after,
        request.query.limit,
      );
      const last = accounts.at(-1);
      return {
        accounts: accounts.map(accountView),
        nextCursor: last && accounts.length === request.query.limit ? encodeCursor(last.id) : null,
      };
    },
  );
  app.get(
    '/v1/accounts/:id',
    {
      preHandler: user,
      schema: {
        tags: ['accounts'],
        summary: 'An account and its balances',
        description: 'To its owner or an operator. WALLET_ERR_ACCOUNT_NOT_FOUND.',
        params: accountParams,
        response: { 200: accountResponse },
      },
    },
    async (request) => accountView(await ledger.account(callerOf(request), request.params.id)),
  );
  app.get(
    '/v1/accounts/:id/entries',
    {
      preHandler: user,
      schema: {
        tags: ['accounts'],
        summary: "An account's entries with the running balance",
        description:
          'One entry per transfer that touched the account, oldest first, each with the posted and pending ' +
          'balance just after it. WALLET_ERR_ACCOUNT_NOT_FOUND, WALLET_ERR_BAD_CURSOR.',
        params: accountParams,
        querystring: pageQuery(options.pageMax),
        response: { 200: z.object({ entries: z.array(entryResponse), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const after = BigInt(decodeCursor(request.query.cursor, SEQ) ?? '0');
      const entries = await ledger.entries(callerOf(request), request.params.id, after, request.query.limit);
      const last = entries.at(-1);
      return {
        entries: entries.map(entryView),
        nextCursor: last && entries.length === request.query.limit ? encodeCursor(last.seq.toString()) : null,
      };
    },
  );
}
