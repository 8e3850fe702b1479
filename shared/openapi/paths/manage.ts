/** Paths: Administration (CONTRACT "Administration", role admin). */
import { ADMIN, BEARER, JSON_BODY, NO_STORE, STORAGE, jsonRequest, jsonResponse, parameter, response, schema, type Json } from '../build.js'

export const managePaths: Json = {

  // ---- Administration ----
  '/manage/roles': {
    get: {
      operationId: 'manage-list-roles',
      summary: 'List roles and their permissions',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '200': jsonResponse('RoleList', 'Roles.', NO_STORE),
        ...ADMIN,
        ...STORAGE,
      },
    },
  },
  '/manage/roles/{role}': {
    parameters: [parameter('RoleName')],
    put: {
      operationId: 'manage-put-role',
      summary: 'Create or replace a role',
      tags: ['manage'],
      security: BEARER,
      requestBody: jsonRequest('RolePermissions', "The role's permissions."),
      responses: {
        '200': jsonResponse('Role', 'The role as stored; the authorizer uses it at once.', NO_STORE),
        ...JSON_BODY,
        ...ADMIN,
        ...STORAGE,
      },
    },
    delete: {
      operationId: 'manage-delete-role',
      summary: 'Delete a role',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '204': { description: 'Deleted.' },
        '400': response('BadRequest'),
        ...ADMIN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
  },
  '/manage/users': {
    get: {
      operationId: 'manage-list-users',
      summary: 'Find users with their roles and passkeys',
      tags: ['manage'],
      security: BEARER,
      parameters: [
        {
          name: 'username',
          in: 'query',
          required: true,
          description: 'Exact username (users are looked up, not listed).',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': jsonResponse('ManagedUserList', 'The user with that username, or an empty list.', NO_STORE),
        '400': response('BadRequest'),
        ...ADMIN,
        ...STORAGE,
      },
    },
  },
  '/manage/users/{userId}/roles/{role}': {
    parameters: [parameter('UserId'), parameter('RoleName')],
    put: {
      operationId: 'manage-grant-user-role',
      summary: 'Give a user a role',
      description: 'The role must exist (`admin` always does). Idempotent.',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '200': jsonResponse('UserRoles', 'The user has the role.', NO_STORE),
        '400': response('BadRequest'),
        ...ADMIN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
    delete: {
      operationId: 'manage-revoke-user-role',
      summary: 'Take a role from a user',
      description: 'Idempotent.',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '200': jsonResponse('UserRoles', 'The user does not have the role.', NO_STORE),
        '400': response('BadRequest'),
        ...ADMIN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
  },
  '/manage/credentials/{id}': {
    parameters: [parameter('CredentialId')],
    delete: {
      operationId: 'manage-revoke-credential',
      summary: 'Revoke a passkey and its sessions',
      description: 'The passkey stays listed, flagged, and is refused at sign-in (`credential_revoked`).',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '204': { description: 'Revoked.' },
        ...ADMIN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
  },
  '/manage/clients': {
    post: {
      operationId: 'manage-create-client',
      summary: 'Register an OAuth client',
      description:
        'With `jwks` or `jwks_uri`: a confidential machine client (`private_key_jwt`). Without keys: a public client for ' +
        'the authorization code flow (PKCE required).',
      tags: ['manage'],
      security: BEARER,
      requestBody: jsonRequest('ClientRegistration', 'The client.'),
      responses: {
        '201': jsonResponse('ClientCreated', 'Registered.', NO_STORE),
        ...JSON_BODY,
        ...ADMIN,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/manage/clients/{clientId}': {
    get: {
      operationId: 'manage-get-client',
      summary: 'Read an OAuth client registration',
      tags: ['manage'],
      security: BEARER,
      parameters: [{ name: 'clientId', in: 'path', required: true, description: 'The client_id.', schema: { type: 'string' } }],
      responses: {
        '200': jsonResponse('ClientCreated', 'The registration and the client\'s current roles.', NO_STORE),
        ...ADMIN,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
  },
  '/manage/keys': {
    get: {
      operationId: 'manage-list-keys',
      summary: 'List token signing keys',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '200': jsonResponse('SigningKeyList', 'Keys with their state and dates.', NO_STORE),
        ...ADMIN,
        ...STORAGE,
      },
    },
  },
  '/manage/keys/rotate': {
    post: {
      operationId: 'manage-rotate-keys',
      summary: 'Promote the next signing key now',
      description: 'The active key retires (still published for the overlap) and a new next key is created.',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '200': jsonResponse('SigningKeyList', 'Keys after the rotation.', NO_STORE),
        ...ADMIN,
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/manage/keys/{kid}': {
    parameters: [parameter('Kid')],
    delete: {
      operationId: 'manage-revoke-key',
      summary: 'Revoke a compromised signing key at once',
      description: 'It leaves the JWKS and the tokens it signed stop verifying.',
      tags: ['manage'],
      security: BEARER,
      responses: {
        '204': { description: 'Revoked.' },
        ...ADMIN,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/manage/audit': {
    get: {
      operationId: 'manage-list-audit-events',
      summary: 'Audit events',
      tags: ['manage'],
      security: BEARER,
      description:
        'Pages of the audit log, oldest first. A full page has a `Link: <…>; rel="next"` header; the last ' +
        "event's `id` is always the `since` of the next page. `npm run audit:verify` checks the chain.",
      parameters: [
        {
          name: 'since',
          in: 'query',
          required: false,
          description: 'An event id (the page starts after it) or an ISO 8601 time (events at or after it). Absent: from the first event.',
          schema: { type: 'string' },
        },
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: 'Page size, 1–1000 (default 100).',
          schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        },
      ],
      responses: {
        '200': jsonResponse('AuditEventList', 'Events, oldest first.', {
          ...NO_STORE,
          Link: { description: 'RFC 8288 `rel="next"`: the next page, when this one is full.', schema: { type: 'string' } },
        }),
        '400': response('BadRequest'),
        ...ADMIN,
        ...STORAGE,
      },
    },
  },
}
