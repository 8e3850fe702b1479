/**
 * @simplewebauthn/server and its helpers as one module, for `webauthnLib()` (./lib.ts) to import
 * on first use. In the Functions bundle it is a file of its own (dist/functions/webauthn.cjs,
 * scripts/build.mjs `beside`): the library and the X.509/ASN.1 code under it are ≈ 350 KiB that
 * the authorizer's cold starts never need to read.
 */
export * as lib from '@simplewebauthn/server'
export * as helpers from '@simplewebauthn/server/helpers'
