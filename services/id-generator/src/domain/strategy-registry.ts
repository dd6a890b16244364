import type { SnowflakeGenerator } from '@sysdesign/platform';
import type { TicketStore } from '../store/ticket-store.js';
import { assignServers, interleave } from './multi-master.js';
import type { IdStrategy, StrategyName } from './strategies.js';
import { UlidGenerator } from './ulid.js';
import { UuidV7Generator } from './uuid.js';

/** Builds every strategy from the parts it needs: a snowflake generator and a ticket store. */
export function createStrategies(parts: {
  snowflake: SnowflakeGenerator;
  tickets: TicketStore;
}): Record<StrategyName, IdStrategy> {
  const uuidV7 = new UuidV7Generator();
  const ulid = new UlidGenerator();
  let nextServer = 0;
  const repeat = (count: number, make: () => string) => {
    const ids = new Array<string>(count);
    for (let index = 0; index < count; index += 1) ids[index] = make();
    return ids;
  };
  return {
    snowflake: {
      async generate(count) {
        return (await parts.snowflake.nextBatch(count)).map(String);
      },
    },
    uuidv4: { generate: async (count) => repeat(count, () => crypto.randomUUID()) },
    uuidv7: { generate: async (count) => repeat(count, () => uuidV7.next()) },
    ulid: { generate: async (count) => repeat(count, () => ulid.next()) },
    ticket: {
      async generate(count) {
        return (await parts.tickets.nextTickets(count)).map(String);
      },
    },
    'multi-master': {
      async generate(count) {
        const assignment = assignServers(count, parts.tickets.servers, nextServer);
        nextServer = assignment.next;
        const idsByServer = await Promise.all(
          assignment.counts.map((servedCount, index) =>
            servedCount === 0 ? Promise.resolve([]) : parts.tickets.nextFromServer(index + 1, servedCount),
          ),
        );
        return interleave(assignment.perId, idsByServer).map(String);
      },
    },
  };
}
