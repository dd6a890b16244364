export * from './require-user.js';
export * from './secret.js';
export * from './signed-url.js';
export * from './tokens.js';
