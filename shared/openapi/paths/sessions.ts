/** Paths: the sessions of an account (CONTRACT v2 "Sessions"), the person's and an administrator's. */
import { ADMIN, BEARER, NO_STORE, SIGNED_IN, STORAGE, jsonResponse, parameter, response, type Json } from '../build.js'

const SESSION_ID = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Session id (the `sid` claim), base64url.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
}

/** A person's token from this service's own sign-in: other applications' and machines' get 403. */
const FIRST_PARTY = { '403': response('Forbidden') }
const MANAGE = { tags: ['manage'], security: BEARER }

export const sessionPaths: Json = {
  '/me/sessions': {
    get: {
      operationId: 'list-my-sessions',
      summary: "The signed-in account's live sessions",
      description: '`current` marks the session of the token that asked.',
      tags: ['account'],
      security: BEARER,
      responses: {
        '200': jsonResponse('SessionList', 'Live sessions, most recently used first.', NO_STORE),
        ...SIGNED_IN,
        ...FIRST_PARTY,
        ...STORAGE,
      },
    },
    delete: {
      operationId: 'revoke-my-other-sessions',
      summary: 'Sign out everywhere else',
      description:
        'Revokes every live session of the account but the current one: their refresh tokens answer `invalid_grant`, ' +
        'their access tokens are refused here at once and by the authorizer within AUTHZ_CACHE_TTL. No recent sign-in is needed.',
      tags: ['account'],
      security: BEARER,
      responses: {
        '204': { description: 'Only the current session is left.' },
        ...SIGNED_IN,
        ...FIRST_PARTY,
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/me/consents': {
    get: {
      operationId: 'list-my-consents',
      summary: 'The applications I approved',
      description: 'What the person approved on the hosted sign-in page with a passkey, per application: scopes and resources (RFC 8707).',
      tags: ['account'],
      security: BEARER,
      responses: {
        '200': jsonResponse('ConsentList', 'Approvals, most recent first.', NO_STORE),
        ...SIGNED_IN,
        ...FIRST_PARTY,
        ...STORAGE,
      },
    },
  },
  '/me/consents/{clientId}': {
    parameters: [
      {
        name: 'clientId',
        in: 'path',
        required: true,
        description: 'The application: its client_id (a client ID metadata document URL percent-encoded).',
        schema: { type: 'string' },
      },
    ],
    delete: {
      operationId: 'revoke-my-consent',
      summary: 'Withdraw an approval',
      description: "Forgets the approval and ends that application's sessions for the person (refresh tokens at once, access tokens at the authorizer within AUTHZ_CACHE_TTL). None: 404.",
      tags: ['account'],
      security: BEARER,
      responses: {
        '204': { description: 'Withdrawn; its sessions are revoked.' },
        ...SIGNED_IN,
        ...FIRST_PARTY,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/me/sessions/{id}': {
    parameters: [SESSION_ID],
    delete: {
      operationId: 'revoke-my-session',
      summary: 'Sign one of my sessions out',
      description: 'The current one too (that is signing out). A session of another account, or one not live: 404.',
      tags: ['account'],
      security: BEARER,
      responses: {
        '204': { description: 'Revoked.' },
        ...SIGNED_IN,
        ...FIRST_PARTY,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/manage/users/{userId}/sessions': {
    parameters: [parameter('UserId')],
    get: {
      operationId: 'manage-list-user-sessions',
      summary: "A user's live sessions",
      description: "`current` is true only for the administrator's own session, in the list of their own account.",
      ...MANAGE,
      responses: {
        '200': jsonResponse('SessionList', 'Live sessions, most recently used first.', NO_STORE),
        ...ADMIN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
    delete: {
      operationId: 'manage-revoke-user-sessions',
      summary: 'Sign a user out everywhere',
      description: 'Revokes every live session of the user (the administrator\'s own too, for their own account).',
      ...MANAGE,
      responses: {
        '204': { description: 'The user has no live session.' },
        ...ADMIN,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
}
