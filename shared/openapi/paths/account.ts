/** Paths: Account self-service (CONTRACT "Account self-service"). */
import { BEARER, JSON_BODY, NO_STORE, SIGNED_IN, STORAGE, jsonRequest, jsonResponse, parameter, problem, response, type Json } from '../build.js'

export const accountPaths: Json = {

  // ---- Self-service ----
  '/me': {
    get: {
      operationId: 'get-me',
      summary: 'The signed-in account',
      tags: ['account'],
      security: BEARER,
      responses: {
        '200': jsonResponse('Me', 'The account.', NO_STORE),
        ...SIGNED_IN,
        ...STORAGE,
      },
    },
    delete: {
      operationId: 'delete-me',
      summary: 'Delete my account',
      description:
        'Needs the account\'s own first-party token with a sign-in within REAUTH_MAX_AGE seconds; older → 401 ' +
        '`insufficient_user_authentication` with `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=<n>`. ' +
        'Erases passkeys, sessions, roles and invitations; the username can be taken again; the username, IP addresses and ' +
        'user agents of the audit events can no longer be read.',
      tags: ['account'],
      security: BEARER,
      responses: {
        '204': { description: 'Deleted.' },
        ...SIGNED_IN,
        ...STORAGE,
      },
    },
  },
  '/me/credentials': {
    get: {
      operationId: 'list-my-credentials',
      summary: "The signed-in account's passkeys",
      tags: ['account'],
      security: BEARER,
      responses: {
        '200': jsonResponse('CredentialList', 'Passkeys, oldest first.', NO_STORE),
        ...SIGNED_IN,
        ...STORAGE,
      },
    },
  },
  '/me/credentials/{id}': {
    parameters: [parameter('CredentialId')],
    patch: {
      operationId: 'update-my-credential',
      summary: 'Rename one of my passkeys',
      tags: ['account'],
      security: BEARER,
      requestBody: jsonRequest('CredentialLabelUpdate', 'The new label.'),
      responses: {
        '200': jsonResponse('Credential', 'The updated passkey.', NO_STORE),
        ...JSON_BODY,
        ...SIGNED_IN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
    delete: {
      operationId: 'delete-my-credential',
      summary: 'Delete one of my passkeys',
      description: 'Revokes the sessions signed in with it. Deleting the last usable passkey is refused (409 `last_credential`).',
      tags: ['account'],
      security: BEARER,
      responses: {
        '204': { description: 'Deleted.' },
        ...SIGNED_IN,
        '404': response('NotFound'),
        '409': problem('This is the last passkey of the account (`last_credential`).'),
        ...STORAGE,
      },
    },
  },
}
