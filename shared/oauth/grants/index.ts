/**
 * Every grant, exported under its literal grant_type, or its last part for a URN (`ciba`,
 * `token-exchange` as `token_exchange`); token.ts
 * dispatches on each one's `grantType`, discovery lists them.
 */
export * as authorization_code from './authorization_code.js'
export * as ciba from './ciba.js'
export * as client_credentials from './client_credentials.js'
export * as refresh_token from './refresh_token.js'
export * as token_exchange from './token-exchange.js'
