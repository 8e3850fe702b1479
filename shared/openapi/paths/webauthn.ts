/** Paths: WebAuthn ceremonies (CONTRACT "WebAuthn ceremonies"). */
import { JSON_BODY, NO_STORE, OPTIONAL_BEARER, PUBLIC, STORAGE, jsonRequest, jsonResponse, problem, response, type Json } from '../build.js'

export const webauthnPaths: Json = {

  // ---- WebAuthn ----
  '/webauthn/registration/options': {
    post: {
      operationId: 'webauthn-registration-options',
      summary: 'Start passkey registration',
      description:
        'Without a bearer token, exactly one of: sign-up with `{ username, displayName? }` (when registration is open); ' +
        '`{ invitation }`, the token of an invitation link (also when registration is closed); `{ recovery }`, the token ' +
        "of a recovery link (a passkey for that account, without signing in; `excludeCredentials` lists the account's). " +
        'With a bearer token and `{}`: add a passkey to the signed-in account. Combinations: 400 `invalid_request`.',
      tags: ['webauthn'],
      security: OPTIONAL_BEARER,
      requestBody: jsonRequest('RegistrationOptionsRequest', 'Who registers.', false),
      responses: {
        '200': jsonResponse('PublicKeyCredentialCreationOptionsJSON', 'Creation options; the challenge lives `CHALLENGE_TTL` seconds.', NO_STORE),
        ...JSON_BODY,
        '401': response('Unauthorized'),
        '403': problem('Registration is closed (`registration_closed`), or the recovered account is disabled (`user_disabled`).'),
        '409': problem('Username already taken (`username_taken`).'),
        ...STORAGE,
      },
    },
  },
  '/webauthn/registration/verify': {
    post: {
      operationId: 'webauthn-registration-verify',
      summary: 'Finish passkey registration',
      description:
        'Verifies the attestation; consumes the challenge whatever the outcome. Sign-up also signs in (`tokens`): by ' +
        'username, or by invitation (the account gets the invitation\'s roles; the invitation is used up only when the ' +
        'account is made, `invitation_invalid` once it is used, revoked or expired). A recovery adds the passkey, uses the ' +
        'link up, revokes every earlier session of the account and signs in (`tokens`; `recovery_invalid` once it is used, ' +
        'replaced or expired). A model whose FIDO metadata status, or AUTHENTICATOR_POLICY, refuses it: 400 ' +
        '`authenticator_not_allowed`.',
      tags: ['webauthn'],
      security: OPTIONAL_BEARER,
      requestBody: jsonRequest('RegistrationVerifyRequest', 'The new credential.'),
      responses: {
        '201': jsonResponse('RegistrationResult', 'Passkey registered.', NO_STORE),
        ...JSON_BODY,
        '401': response('Unauthorized'),
        '403': problem('Registration is closed, the challenge was issued to another account, or the account is disabled (`registration_closed`, `forbidden`, `user_disabled`).'),
        '409': problem('Username or credential already registered (`username_taken`, `credential_exists`), or a recovery kept losing races (`conflict`).'),
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
      description:
        'Verifies the assertion; consumes the challenge whatever the outcome. Issues tokens for `audience`. A passkey ' +
        'whose model the FIDO metadata status, or AUTHENTICATOR_POLICY, refuses: 400 `authenticator_not_allowed`.',
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
