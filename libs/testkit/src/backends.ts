/**
 * Where a test gets a real backend: the environment variable first (CI starts real servers),
 * else a container when a Docker engine answers (a developer's machine), else nothing, and the
 * suite is skipped with the reason printed, never silently.
 */

export type Backend<Value> =
  | { available: true; value: Value; source: 'env' | 'container' }
  | { available: false; reason: string };

export interface PostgresBackend {
  url: string;
}
export interface RedisBackend {
  url: string;
}
export interface KafkaBackend {
  brokers: string[];
}
export interface CassandraBackend {
  contactPoints: string[];
}

const cache = new Map<string, Promise<Backend<unknown>>>();

function once<Value>(name: string, find: () => Promise<Backend<Value>>): Promise<Backend<Value>> {
  let found = cache.get(name);
  if (!found) {
    found = find();
    cache.set(name, found);
  }
  return found as Promise<Backend<Value>>;
}

let dockerAnswer: Promise<string | undefined> | undefined;

/** Resolves to undefined when a container runtime answers, else to why not. */
function dockerUnavailableReason(): Promise<string | undefined> {
  dockerAnswer ??= (async () => {
    if (process.env.TESTKIT_NO_CONTAINERS === '1') return 'containers disabled by TESTKIT_NO_CONTAINERS=1';
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return undefined;
    } catch (error) {
      return `no Docker engine (${(error as Error).message.split('\n')[0]})`;
    }
  })();
  return dockerAnswer;
}

async function fromContainer<Value>(envName: string, start: () => Promise<Value>): Promise<Backend<Value>> {
  const reason = await dockerUnavailableReason();
  if (reason) return { available: false, reason: `${envName} is not set and ${reason}` };
  try {
    return { available: true, value: await start(), source: 'container' };
  } catch (error) {
    return {
      available: false,
      reason: `${envName} is not set and its container failed: ${(error as Error).message}`,
    };
  }
}

export function postgresBackend(): Promise<Backend<PostgresBackend>> {
  return once('postgres', async () => {
    const url = process.env.DATABASE_URL;
    if (url) return { available: true, value: { url }, source: 'env' };
    return fromContainer('DATABASE_URL', async () => {
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer('postgres:16-alpine')
        .withEnvironment({ POSTGRES_PASSWORD: 'postgres', POSTGRES_HOST_AUTH_METHOD: 'trust' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      return {
        url: `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
      };
    });
  });
}

export function redisBackend(): Promise<Backend<RedisBackend>> {
  return once('redis', async () => {
    const url = process.env.REDIS_URL;
    if (url) return { available: true, value: { url }, source: 'env' };
    return fromContainer('REDIS_URL', async () => {
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer('redis:7-alpine')
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
        .start();
      return { url: `redis://${container.getHost()}:${container.getMappedPort(6379)}` };
    });
  });
}

export function kafkaBackend(): Promise<Backend<KafkaBackend>> {
  return once('kafka', async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (brokers)
      return {
        available: true,
        value: { brokers: brokers.split(',').map((broker) => broker.trim()) },
        source: 'env',
      };
    return fromContainer('KAFKA_BROKERS', async () => {
      const { GenericContainer, Wait } = await import('testcontainers');
      // KRaft single node. The advertised listener must be the port the host sees, which is only
      // known after start, so a fixed host port is bound.
      const hostPort = 19092 + Math.floor(Math.random() * 500);
      const container = await new GenericContainer('apache/kafka:3.9.0')
        .withExposedPorts({ container: hostPort, host: hostPort })
        .withEnvironment({
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          KAFKA_LISTENERS: `PLAINTEXT://:${hostPort},CONTROLLER://:9093`,
          KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://localhost:${hostPort}`,
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .start();
      return { brokers: [`${container.getHost()}:${hostPort}`] };
    });
  });
}

export function cassandraBackend(): Promise<Backend<CassandraBackend>> {
  return once('cassandra', async () => {
    const points = process.env.CASSANDRA_CONTACT_POINTS;
    if (points) {
      return {
        available: true,
        value: { contactPoints: points.split(',').map((point) => point.trim()) },
        source: 'env',
      };
    }
    return fromContainer('CASSANDRA_CONTACT_POINTS', async () => {
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer('cassandra:5.0')
        .withExposedPorts(9042)
        .withEnvironment({ MAX_HEAP_SIZE: '512M', HEAP_NEWSIZE: '128M' })
        .withWaitStrategy(Wait.forLogMessage(/Starting listening for CQL clients/))
        .withStartupTimeout(180_000)
        .start();
      return { contactPoints: [`${container.getHost()}:${container.getMappedPort(9042)}`] };
    });
  });
}

export interface RedisAndPostgresBackend {
  redisUrl: string;
  databaseUrl: string;
}

/**
 * Both Redis and Postgres, for suites that run a service the way docker-compose does (several
 * instances sharing both); unavailable, with the missing one's reason, when either is.
 */
export async function redisAndPostgresBackend(): Promise<Backend<RedisAndPostgresBackend>> {
  const [redis, postgres] = await Promise.all([redisBackend(), postgresBackend()]);
  if (!redis.available) return redis;
  if (!postgres.available) return postgres;
  return {
    available: true,
    value: { redisUrl: redis.value.url, databaseUrl: postgres.value.url },
    source: redis.source === 'env' && postgres.source === 'env' ? 'env' : 'container',
  };
}
