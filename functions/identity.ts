/**
 * The managed-identity credential, bundled on its own (dist/functions/identity.cjs) so that the
 * Functions bundle does not parse @azure/identity and MSAL at every cold start: the Table store
 * requires it on its first token request (scripts/build.mjs `identityBeside`).
 */
export { DefaultAzureCredential } from '@azure/identity'
