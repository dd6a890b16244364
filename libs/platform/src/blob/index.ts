export * from './fs.js';
export * from './memory.js';
export * from './port.js';
