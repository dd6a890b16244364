import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend } from '@sysdesign/testkit';
import { afterAll } from 'vitest';
import { createRedisStreamsEventBus } from '../../src/bus/index.js';
import { eventBusContract } from './contract.js';
import { RecordingLogger } from './helpers.js';

// Against the shared Redis (REDIS_URL, or a container when Docker answers); skipped visibly
// otherwise. Every bus of the suite works under one fresh key prefix, deleted afterwards.
describeWith(await redisBackend(), 'EventBus contract: redis streams', ({ url }) => {
  const keyPrefix = freshRedisPrefix('bus-contract');
  afterAll(() => deleteRedisPrefix(url, keyPrefix));
  eventBusContract({
    open: (options) =>
      createRedisStreamsEventBus({
        url,
        clientId: 'platform-bus-contract',
        keyPrefix,
        heartbeatIntervalMs: 50,
        sessionTimeoutMs: 2_000,
        blockMs: 1_000,
        logger: new RecordingLogger(),
        ...options,
      }),
    waitMs: 10_000,
    testTimeoutMs: 30_000,
  });
});
