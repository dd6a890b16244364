export {
  type ClusterSettings,
  type Config,
  clusterSettings,
  configSchema,
  DEFAULT_PORT,
  MAX_KEY_BYTES,
  SERVICE_NAME,
} from './config.js';
export { errors } from './errors.js';
export { KvNode } from './node.js';
export { type NodeStorage, openNodeStorage } from './node-storage.js';
export { buildService, EMBEDDED_NODES, type KvBuildOptions, kvNodeOf, kvStore } from './service.js';
export * from './storage/index.js';
