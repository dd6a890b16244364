import { describeWith, kafkaBackend } from '@sysdesign/testkit';
import { createKafkaEventBus } from '../../src/bus/index.js';
import { eventBusContract } from './contract.js';

// Against a real broker (KAFKA_BROKERS, or a container when Docker answers); skipped visibly
// otherwise. Brokers need seconds to create topics and rebalance groups, hence the long waits.
describeWith(await kafkaBackend(), 'EventBus contract: kafka', ({ brokers }) => {
  eventBusContract({
    open: (options) =>
      createKafkaEventBus({
        brokers,
        clientId: 'platform-bus-contract',
        heartbeatIntervalMs: 500,
        sessionTimeoutMs: 10_000,
        joinTimeoutMs: 30_000,
        ...options,
      }),
    waitMs: 30_000,
    testTimeoutMs: 90_000,
  });
});
