/** Every grant, exported under its literal grant_type (token.ts dispatches on it; discovery lists it). */
export * as authorization_code from './authorization_code.js'
export * as client_credentials from './client_credentials.js'
export * as refresh_token from './refresh_token.js'
