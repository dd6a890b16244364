import { MAX_ID, type ServiceApp, type SnowflakeGenerator } from '@sysdesign/platform';
import { z } from 'zod';
import { type IdStrategy, MAX_IDS_PER_REQUEST, STRATEGIES, type StrategyName } from '../domain/strategies.js';
import type { IdMetrics } from '../metrics.js';

const idsQuery = z.object({
  // Decimal digits only: a coercing parse would also take `1e4`, `0x10` and ` 5`.
  count: z
    .string({ error: 'must be a whole number in decimal digits' })
    .regex(/^[0-9]{1,6}$/, `must be a whole number in decimal digits, 1 to ${MAX_IDS_PER_REQUEST}`)
    // The default sits on the text a client sends, so the OpenAPI document shows it.
    .default('1')
    .transform(Number)
    .pipe(
      z
        .number()
        .min(1, 'must be at least 1')
        .max(MAX_IDS_PER_REQUEST, `must be at most ${MAX_IDS_PER_REQUEST}`),
    )
    .describe(`How many ids to return, 1 to ${MAX_IDS_PER_REQUEST}`),
  strategy: z
    .enum(STRATEGIES, { error: `must be one of ${STRATEGIES.join(', ')}` })
    .default('snowflake')
    .describe('How ids are made'),
});

const idsResponse = z.object({
  strategy: z.enum(STRATEGIES),
  ids: z
    .array(z.string())
    .describe('Numeric ids as decimal strings (they exceed 2^53); UUIDs and ULIDs as text'),
});

const decodeParams = z.object({
  id: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,18})$/, 'must be a decimal number without sign or leading zeros')
    // zod runs every check even after one fails, so only parse what the regex accepted.
    .refine((id) => !/^(0|[1-9][0-9]{0,18})$/.test(id) || BigInt(id) <= MAX_ID, 'must be at most 2^63 - 1')
    .describe('A snowflake id as a decimal string'),
});

const decodeResponse = z.object({
  id: z.string(),
  timestamp: z.string().describe('ISO 8601'),
  datacenterId: z.number().int().optional(),
  workerId: z.number().int().optional(),
  machineId: z.number().int().optional(),
  sequence: z.number().int(),
});

export function registerIdRoutes(
  app: ServiceApp,
  deps: { strategies: Record<StrategyName, IdStrategy>; snowflake: SnowflakeGenerator; metrics: IdMetrics },
): void {
  // One labelled counter per strategy, made once: prom-client hashes labels on every inc() otherwise.
  const issuedCounters = Object.fromEntries(
    STRATEGIES.map((name) => [name, deps.metrics.idsIssued.labels(name)]),
  );
  app.get(
    '/v1/ids',
    {
      schema: {
        summary: 'Generate ids',
        description: `Returns 1 to ${MAX_IDS_PER_REQUEST} ids from one strategy, in the order they were made.`,
        querystring: idsQuery,
        response: { 200: idsResponse },
      },
    },
    async (request) => {
      const { count, strategy } = request.query;
      const ids = await deps.strategies[strategy].generate(count);
      issuedCounters[strategy]!.inc(ids.length);
      return { strategy, ids };
    },
  );

  app.get(
    '/v1/ids/:id/decode',
    {
      schema: {
        summary: 'Decode a snowflake id',
        description: 'Splits an id of the configured layout into its time, node and sequence fields.',
        params: decodeParams,
        response: { 200: decodeResponse },
      },
    },
    async (request) => {
      const id = BigInt(request.params.id);
      const { timestamp, fields } = deps.snowflake.decode(id);
      const node =
        deps.snowflake.layout.field('machineId') !== undefined
          ? { machineId: fields.machineId }
          : { datacenterId: fields.datacenterId, workerId: fields.workerId };
      return {
        id: request.params.id,
        timestamp: timestamp.toISOString(),
        ...node,
        sequence: fields.sequence,
      };
    },
  );
}
