/**
 * `pnpm --filter @sysdesign/load-tests run bench:self`: the baseline measured against itself (an A/A test).
 * The ratios show this machine's noise floor: read service ratios within that margin as equal.
 */
import { fileURLToPath } from 'node:url';
import { runHttpBench, runMicro, writeReport } from './index.js';

const http = await runHttpBench({
  service: 'baseline',
  target: { modulePath: fileURLToPath(new URL('./baseline-target.ts', import.meta.url)) },
  scenarios: [
    { name: 'small', path: '/baseline' },
    { name: 'large', path: '/baseline/large', baseline: 'large' },
    { name: 'small POST', method: 'POST', path: '/baseline', body: { hello: 'world' } },
  ],
});
const sample = { strategy: 'snowflake', ids: ['7250000000000000000', '7250000000000004099'] };
const micro = [
  await runMicro('JSON.stringify 2 ids', () => JSON.stringify(sample), { note: 'harness sanity check' }),
];
await writeReport({
  service: 'baseline',
  http,
  micro,
  notes: [
    'The bare-Fastify baseline against itself: every ratio should be near 1.00; the spread is the noise.',
  ],
});
