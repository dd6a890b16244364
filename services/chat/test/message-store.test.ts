import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EmbeddedPostgres, migrate, openSql, type Sql } from '@sysdesign/platform';
import {
  cassandraBackend,
  describeWith,
  dropSchema,
  freshSchemaName,
  postgresBackend,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { openCassandraMessageStore } from '../src/store/cassandra-messages.js';
import type { MessageStore } from '../src/store/message-store.js';
import { PostgresMessageStore } from '../src/store/postgres-messages.js';
import { messageStoreContract } from './message-store.contract.js';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const channel = () => `g_${randomBytes(8).toString('hex')}`;

describe('message store: PGlite (the embedded default)', () => {
  let embedded: EmbeddedPostgres;
  let sql: Sql;
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
    sql = await embedded.forSchema('chat_contract');
    await migrate(sql, MIGRATIONS);
  });
  afterAll(async () => {
    await sql?.close();
    await embedded?.close();
  });
  messageStoreContract(async () => ({ store: new PostgresMessageStore(sql), channel }));
});

describeWith(await postgresBackend(), 'message store: Postgres', ({ url }) => {
  const schema = freshSchemaName('chat_store');
  let sql: Sql;
  beforeAll(async () => {
    sql = await openSql({ schema, databaseUrl: url });
    await migrate(sql, MIGRATIONS);
  });
  afterAll(async () => {
    await sql?.close();
    await dropSchema(url, schema);
  });
  messageStoreContract(async () => ({ store: new PostgresMessageStore(sql), channel }));
});

describeWith(await cassandraBackend(), 'message store: Cassandra', ({ contactPoints }) => {
  let store: MessageStore;
  beforeAll(async () => {
    store = await openCassandraMessageStore({
      contactPoints,
      localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
      keyspace: `chat_contract_${randomBytes(4).toString('hex')}`,
      replicationFactor: 1,
    });
  }, 180_000);
  afterAll(async () => {
    await store?.close();
  });
  messageStoreContract(async () => ({ store, channel }));
});
