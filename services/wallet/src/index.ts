export { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
export { type Caller, Ledger } from './ledger.js';
export { type BuildOptions, buildService, wallet } from './service.js';
export { type ConservationReport, checkConservation } from './store/conservation.js';
