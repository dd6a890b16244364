import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import type { Ledger } from '../ledger.js';
import { OPERATOR_SCOPE } from './schemas.js';

export interface AuditRoutesOptions {
  ledger: Ledger;
  authority: TokenAuthority;
  graceMs: number;
}

const totals = z.object({
  currency: z.string(),
  debitsPosted: z.string(),
  creditsPosted: z.string(),
  debitsPending: z.string(),
  creditsPending: z.string(),
  balanced: z.boolean(),
});

export function registerAuditRoutes(app: ServiceApp, options: AuditRoutesOptions): void {
  app.get(
    '/v1/audit/conservation',
    {
      preHandler: requireUser(options.authority, { scopes: [OPERATOR_SCOPE] }),
      schema: {
        tags: ['audit'],
        summary: 'Check that no money was created or destroyed (operator)',
        description:
          'Per currency, debits equal credits (posted and pending); every transfer has its two entries; every ' +
          "account's counters equal the sum of its entries; no reservation is open past its deadline. " +
          'Reads every row: an audit, not a health check.',
        response: {
          200: z.object({
            ok: z.boolean(),
            currencies: z.array(totals),
            transfersWithBadEntries: z.array(z.string()),
            accountsOutOfBalance: z.array(z.string()),
            expiredButOpen: z.array(z.string()),
          }),
        },
      },
    },
    async () => {
      const report = await options.ledger.conservation(options.graceMs);
      return {
        ...report,
        currencies: report.currencies.map((currency) => ({
          currency: currency.currency,
          debitsPosted: currency.debitsPosted.toString(),
          creditsPosted: currency.creditsPosted.toString(),
          debitsPending: currency.debitsPending.toString(),
          creditsPending: currency.creditsPending.toString(),
          balanced: currency.balanced,
        })),
      };
    },
  );
}
