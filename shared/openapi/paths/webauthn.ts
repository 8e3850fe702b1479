/** Paths: WebAuthn ceremonies (CONTRACT "WebAuthn ceremonies"). */
import { JSON_BODY, NO_STORE, OPTIONAL_BEARER, PUBLIC, STORAGE, jsonRequest, jsonResponse, problem, response, type Json } from '../build.js'

export const webauthnPaths: Json = {

  // ---- WebAuthn ----
  '/webauthn/registration/options': {
    post: {
      operationId: 'webauthn-registration-options',
      summary: 'Start passkey registration',
      description:
        'Without a bearer token: sign-up with `{ username, displayName? }` (when registration is open). ' +
        'With a bearer token and `{}`: add a passkey to the signed-in account.',
      tags: ['webauthn'],
      security: OPTIONAL_BEARER,
      requestBody: jsonRequest('RegistrationOptionsRequest', 'Who registers.', false),
      responses: {
        '200': jsonResponse('PublicKeyCredentialCreationOptionsJSON', 'Creation options; the challenge lives `CHALLENGE_TTL` seconds.', NO_STORE),
        ...JSON_BODY,
        '401': response('Unauthorized'),
        '403': problem('Registration is closed (`registration_closed`).'),
        '409': problem('Username already taken (`username_taken`).'),
        ...STORAGE,
      },
    },
  },
  '/webauthn/registration/verify': {
    post: {
      operationId: 'webauthn-registration-verify',
      summary: 'Finish passkey registration',
      description: 'Verifies the attestation; consumes the challenge whatever the outcome. Sign-up also signs in (`tokens`).',
      tags: ['webauthn'],
      security: OPTIONAL_BEARER,
      requestBody: jsonRequest('RegistrationVerifyRequest', 'The new credential.'),
      responses: {
        '201': jsonResponse('RegistrationResult', 'Passkey registered.', NO_STORE),
        ...JSON_BODY,
        '401': response('Unauthorized'),
        '403': problem('Registration is closed, or the challenge was issued to another account (`registration_closed`, `forbidden`).'),
        '409': problem('Username or credential already registered (`username_taken`, `credential_exists`).'),
        ...STORAGE,
      },
    },
  },
  '/webauthn/authentication/options': {
    post: {
      operationId: 'webauthn-authentication-options',
      summary: 'Start passkey sign-in',
      description:
        'Without `username`: empty `allowCredentials` (usernameless and autofill sign-in). ' +
        'Unknown usernames get options of the same shape (no account enumeration).',
      tags: ['webauthn'],
      security: PUBLIC,
      requestBody: jsonRequest('AuthenticationOptionsRequest', 'Optional username.', false),
      responses: {
        '200': jsonResponse('PublicKeyCredentialRequestOptionsJSON', 'Request options.', NO_STORE),
        ...JSON_BODY,
        ...STORAGE,
      },
    },
  },
  '/webauthn/authentication/verify': {
    post: {
      operationId: 'webauthn-authentication-verify',
      summary: 'Finish passkey sign-in',
      description: 'Verifies the assertion; consumes the challenge whatever the outcome. Issues tokens for `audience`.',
      tags: ['webauthn'],
      security: PUBLIC,
      requestBody: jsonRequest('AuthenticationVerifyRequest', 'The assertion.'),
      responses: {
        '200': jsonResponse('TokenResponse', 'Signed in.', NO_STORE),
        ...JSON_BODY,
        ...STORAGE,
      },
    },
  },
}
