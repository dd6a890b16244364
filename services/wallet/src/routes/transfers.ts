import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import { parseAmount } from '../domain/amount.js';
import type { Ledger, TransferRequest } from '../ledger.js';
import { transferView } from '../present.js';
import { callerOf, created } from './context.js';
import {
  idempotencyHeaders,
  OPERATOR_SCOPE,
  reverseBody,
  transferBody,
  transferId,
  transferResponse,
} from './schemas.js';

export interface TransferRoutesOptions {
  ledger: Ledger;
  authority: TokenAuthority;
  batchMax: number;
  pendingTimeoutMaxMs: number;
}

const transferParams = z.object({ id: transferId });

const REFUSALS =
  'WALLET_ERR_BAD_AMOUNT, WALLET_ERR_UNKNOWN_CURRENCY, WALLET_ERR_CURRENCY_MISMATCH, WALLET_ERR_SELF_TRANSFER, ' +
  'WALLET_ERR_ACCOUNT_NOT_FOUND, WALLET_ERR_NOT_OWNER, WALLET_ERR_INSUFFICIENT_FUNDS, WALLET_ERR_CREDIT_LIMIT, ' +
  'WALLET_ERR_BALANCE_OVERFLOW, WALLET_ERR_IDEMPOTENCY_CONFLICT, WALLET_ERR_CONTENTION (503, retry).';

function requestOf(body: z.infer<ReturnType<typeof transferBody>>, field = 'amount'): TransferRequest {
  return {
    debitAccountId: body.debitAccountId,
    creditAccountId: body.creditAccountId,
    amount: parseAmount(body.amount, field),
    currency: body.currency,
    pendingTimeoutMs: body.pending?.timeoutMs,
    memo: body.memo,
  };
}

export function registerTransferRoutes(app: ServiceApp, options: TransferRoutesOptions): void {
  const { ledger } = options;
  const user = requireUser(options.authority);
  const operator = requireUser(options.authority, { scopes: [OPERATOR_SCOPE] });
  const body = transferBody(options.pendingTimeoutMaxMs);
  app.post(
    '/v1/transfers',
    {
      preHandler: user,
      schema: {
        tags: ['transfers'],
        summary: 'Move money out of your account',
        description:
          'Debits your account and credits another of the same currency, posted at once; with `pending`, ' +
          `reserves the amount until posted, voided or timed out. ${REFUSALS}`,
        headers: idempotencyHeaders,
        body,
        response: { 201: transferResponse },
      },
    },
    async (request, reply) =>
      created(
        reply,
        await ledger.createTransfer(
          callerOf(request),
          requestOf(request.body),
          request.headers['idempotency-key'],
        ),
      ),
  );
  app.post(
    '/v1/transfers/batch',
    {
      preHandler: user,
      schema: {
        tags: ['transfers'],
        summary: 'A linked batch: all transfers or none',
        description: `Up to BATCH_MAX transfers applied in order in one transaction; a refused one (its \`index\` in the problem) rolls back all. ${REFUSALS}`,
        headers: idempotencyHeaders,
        body: z.object({ transfers: z.array(body).min(1).max(options.batchMax) }),
        response: { 201: z.object({ batchId: z.string(), transfers: z.array(transferResponse) }) },
      },
    },
    async (request, reply) => {
      const requests = request.body.transfers.map((item, index) =>
        requestOf(item, `transfers.${index}.amount`),
      );
      return created(
        reply,
        await ledger.createBatch(callerOf(request), requests, request.headers['idempotency-key']),
      );
    },
  );
  app.get(
    '/v1/transfers/:id',
    {
      preHandler: user,
      schema: {
        tags: ['transfers'],
        summary: 'A transfer',
        description: 'To the owner of either account or an operator. WALLET_ERR_TRANSFER_NOT_FOUND.',
        params: transferParams,
        response: { 200: transferResponse },
      },
    },
    async (request) => transferView(await ledger.transfer(callerOf(request), request.params.id)),
  );
  for (const phase of ['post', 'void'] as const) {
    app.post(
      `/v1/transfers/:id/${phase}`,
      {
        preHandler: user,
        schema: {
          tags: ['transfers'],
          summary: phase === 'post' ? 'Post a pending transfer' : 'Void a pending transfer',
          description:
            `${phase === 'post' ? 'Moves the reserved amount for good' : 'Releases the reservation'}, as a new ` +
            "transfer naming the pending one; by the debit account's owner or an operator. " +
            'WALLET_ERR_PENDING_NOT_OPEN (already posted or voided), WALLET_ERR_PENDING_EXPIRED, ' +
            'WALLET_ERR_TRANSFER_NOT_FOUND, WALLET_ERR_NOT_OWNER.',
          params: transferParams,
          headers: idempotencyHeaders,
          response: { 201: transferResponse },
        },
      },
      async (request, reply) =>
        created(
          reply,
          await ledger.resolvePending(
            callerOf(request),
            request.params.id,
            phase,
            request.headers['idempotency-key'],
          ),
        ),
    );
  }
  app.post(
    '/v1/transfers/:id/reverse',
    {
      preHandler: operator,
      schema: {
        tags: ['transfers'],
        summary: 'Reverse a posted transfer (operator)',
        description:
          'A new transfer of the same amount back from the credit account to the debit account; the original ' +
          'stays as it was. Once per transfer. WALLET_ERR_NOT_REVERSIBLE, WALLET_ERR_INSUFFICIENT_FUNDS.',
        params: transferParams,
        headers: idempotencyHeaders,
        body: reverseBody,
        response: { 201: transferResponse },
      },
    },
    async (request, reply) =>
      created(
        reply,
        await ledger.reverse(
          callerOf(request),
          request.params.id,
          request.body.memo,
          request.headers['idempotency-key'],
        ),
      ),
  );
}
