/** Paths: Administration (CONTRACT "Administration", role admin). */
import { ADMIN, BEARER, JSON_BODY, NO_STORE, STORAGE, jsonRequest, jsonResponse, parameter, problem, response, schema, type Json } from '../build.js'

/** Every administration operation: listed under `manage`, called with an admin's bearer token. */
const MANAGE = { tags: ['manage'], security: BEARER }

/** The `{clientId}` path parameter. */
const CLIENT_ID = [{ name: 'clientId', in: 'path', required: true, description: 'The client_id.', schema: { type: 'string' } }]

/** The `{id}` path parameter of an invitation. */
const INVITATION_ID = [{ name: 'id', in: 'path', required: true, description: 'The invitation id.', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' } }]

/**
 * An administration operation's answers: its own, then what every one of them may answer, 401 and
 * 403 (no token, not an admin) and 503 (storage). Status keys are integer-like, so the document
 * lists them in numeric order whatever the order here.
 */
const adminAnswers = (own: Json): Json => ({ ...own, ...ADMIN, ...STORAGE })

export const managePaths: Json = {

  // ---- Administration ----
  '/manage/roles': {
    get: {
      operationId: 'manage-list-roles',
      summary: 'List roles and their permissions',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('RoleList', 'Roles.', NO_STORE),
      }),
    },
  },
  '/manage/roles/{role}': {
    parameters: [parameter('RoleName')],
    put: {
      operationId: 'manage-put-role',
      summary: 'Create or replace a role',
      ...MANAGE,
      requestBody: jsonRequest('RolePermissions', "The role's permissions."),
      responses: adminAnswers({
        '200': jsonResponse('Role', 'The role as stored; the authorizer uses it at once.', NO_STORE),
        ...JSON_BODY,
      }),
    },
    delete: {
      operationId: 'manage-delete-role',
      summary: 'Delete a role',
      ...MANAGE,
      responses: adminAnswers({
        '204': { description: 'Deleted.' },
        '400': response('BadRequest'),
        '404': response('NotFound'),
      }),
    },
  },
  '/manage/users': {
    get: {
      operationId: 'manage-list-users',
      summary: 'Find a user with their passkeys, or list users a page at a time',
      description:
        'With `username`: that user with roles and passkeys, as a list of at most one. Without: a page of at most 100 ' +
        'people without passkeys (machine clients are listed by GET /manage/clients), the next one with `cursor`.',
      ...MANAGE,
      parameters: [
        {
          name: 'username',
          in: 'query',
          required: false,
          description: 'Exact username: look that user up (the answer is a list).',
          schema: { type: 'string' },
        },
        {
          name: 'cursor',
          in: 'query',
          required: false,
          description: "Without `username`: the previous page's `next` (a cursor not given out → 400).",
          schema: { type: 'string' },
        },
      ],
      responses: adminAnswers({
        '200': jsonResponse('ManagedUsersResult', 'With `username`: the user with that username, or an empty list. Without: one page of users.', NO_STORE),
        '400': response('BadRequest'),
      }),
    },
  },
  '/manage/users/{userId}': {
    parameters: [parameter('UserId')],
    patch: {
      operationId: 'manage-update-user',
      summary: 'Disable or enable a user',
      description:
        'Disabling revokes the sessions at once; sign-ins then answer 403 `user_disabled`, refresh tokens `invalid_grant`, ' +
        'and the authorizer 401 within AUTHZ_CACHE_TTL. A machine client is refused (400: delete the client instead); ' +
        'an administrator disabling their own account is refused (409). Idempotent.',
      ...MANAGE,
      requestBody: jsonRequest('UserStatusUpdate', 'The new state.'),
      responses: adminAnswers({
        '200': jsonResponse('ManagedUserSummary', 'The user as it is now.', NO_STORE),
        ...JSON_BODY,
        '404': response('NotFound'),
        '409': response('Conflict'),
      }),
    },
    delete: {
      operationId: 'manage-delete-user',
      summary: 'Delete a user',
      description:
        'Erases the account: passkeys, sessions, roles and invitations; the username can be taken again. Its refresh tokens ' +
        'answer `invalid_grant` and introspection `active: false` at once, the authorizer 401 within AUTHZ_CACHE_TTL. The ' +
        "person's username, IP addresses and user agents in the audit log can no longer be read (their key is destroyed); the " +
        'log still verifies. A deletion interrupted by a storage failure (503) is finished by the next DELETE. A machine ' +
        'client is refused (400: delete the client instead); an administrator deleting their own account here is refused ' +
        '(409: use DELETE /me).',
      ...MANAGE,
      responses: adminAnswers({
        '204': { description: 'Deleted.' },
        '400': response('BadRequest'),
        '404': response('NotFound'),
        '409': response('Conflict'),
      }),
    },
  },
  '/manage/users/{userId}/recovery': {
    parameters: [parameter('UserId')],
    post: {
      operationId: 'manage-issue-recovery',
      summary: 'Issue a recovery link for a user',
      description:
        'For a person who lost every passkey: with the link they add a passkey without signing in ' +
        '(`POST /webauthn/registration/options` `{ recovery }`), which revokes every earlier session of the account. ' +
        'Single use; a new link replaces the last. The old passkeys stay. A disabled account\'s link answers ' +
        '403 `user_disabled` until the account is enabled.',
      ...MANAGE,
      requestBody: jsonRequest('RecoveryIssue', 'The lifetime (optional; an empty body is accepted).', false),
      responses: adminAnswers({
        '201': jsonResponse('RecoveryIssued', 'The link; its token is shown only here.', NO_STORE),
        ...JSON_BODY,
        '404': response('NotFound'),
      }),
    },
  },
  '/manage/invitations': {
    get: {
      operationId: 'manage-list-invitations',
      summary: 'List pending invitations',
      description: 'Not used, not revoked, not expired; oldest first. No tokens.',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('InvitationList', 'Pending invitations.', NO_STORE),
      }),
    },
    post: {
      operationId: 'manage-create-invitation',
      summary: 'Invite a person',
      description:
        'The person signs up with the link (`POST /webauthn/registration/options` `{ invitation }`), also while ' +
        'REGISTRATION=closed, and gets the username, display name and roles given here. Single use; lives `ttl` ' +
        'seconds (default 7 days, at most 30 days).',
      ...MANAGE,
      requestBody: jsonRequest('InvitationCreate', 'Who is invited.'),
      responses: adminAnswers({
        '201': jsonResponse('InvitationCreated', 'Invited; the token is shown only here.', NO_STORE),
        ...JSON_BODY,
        '404': problem('A role that is not defined (`not_found`).'),
        '409': problem('The username is taken (`username_taken`).'),
      }),
    },
  },
  '/manage/invitations/{id}': {
    parameters: INVITATION_ID,
    delete: {
      operationId: 'manage-revoke-invitation',
      summary: 'Revoke a pending invitation',
      description: 'Its token then answers `invitation_invalid`. Unknown, used, revoked or expired: 404.',
      ...MANAGE,
      responses: adminAnswers({
        '204': { description: 'Revoked.' },
        '404': response('NotFound'),
      }),
    },
  },
  '/manage/users/{userId}/roles/{role}': {
    parameters: [parameter('UserId'), parameter('RoleName')],
    put: {
      operationId: 'manage-grant-user-role',
      summary: 'Give a user a role',
      description: 'The role must exist (`admin` always does). Idempotent.',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('UserRoles', 'The user has the role.', NO_STORE),
        '400': response('BadRequest'),
        '404': response('NotFound'),
      }),
    },
    delete: {
      operationId: 'manage-revoke-user-role',
      summary: 'Take a role from a user',
      description: 'Idempotent.',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('UserRoles', 'The user does not have the role.', NO_STORE),
        '400': response('BadRequest'),
        '404': response('NotFound'),
      }),
    },
  },
  '/manage/credentials/{id}': {
    parameters: [parameter('CredentialId')],
    delete: {
      operationId: 'manage-revoke-credential',
      summary: 'Revoke a passkey and its sessions',
      description: 'The passkey stays listed, flagged, and is refused at sign-in (`credential_revoked`).',
      ...MANAGE,
      responses: adminAnswers({
        '204': { description: 'Revoked.' },
        '404': response('NotFound'),
      }),
    },
  },
  '/manage/clients': {
    get: {
      operationId: 'manage-list-clients',
      summary: 'List OAuth clients',
      description: 'Every registered client as GET of one shows it (no secrets: there are none), oldest first, 100 a page.',
      ...MANAGE,
      parameters: [
        {
          name: 'cursor',
          in: 'query',
          required: false,
          description: 'The `next` of the previous page. Absent: the first page.',
          schema: { type: 'string' },
        },
      ],
      responses: adminAnswers({
        '200': jsonResponse('ClientList', 'Clients with their current roles.', NO_STORE),
        '400': response('BadRequest'),
      }),
    },
    post: {
      operationId: 'manage-create-client',
      summary: 'Register an OAuth client',
      description:
        'With `jwks` or `jwks_uri`: a confidential machine client (`private_key_jwt`). Without keys: a public client for ' +
        'the authorization code flow (PKCE required).',
      ...MANAGE,
      requestBody: jsonRequest('ClientRegistration', 'The client.'),
      responses: adminAnswers({
        '201': jsonResponse('ClientCreated', 'Registered.', NO_STORE),
        ...JSON_BODY,
        '404': response('NotFound'),
        '409': response('Conflict'),
      }),
    },
  },
  '/manage/clients/{clientId}': {
    get: {
      operationId: 'manage-get-client',
      summary: 'Read an OAuth client registration',
      ...MANAGE,
      parameters: CLIENT_ID,
      responses: adminAnswers({
        '200': jsonResponse('ClientCreated', 'The registration and the client\'s current roles.', NO_STORE),
        '404': response('NotFound'),
      }),
    },
    patch: {
      operationId: 'manage-update-client',
      summary: 'Change an OAuth client',
      description:
        'Changed keys and roles apply at once here (the authorizer elsewhere within `AUTHZ_CACHE_TTL`; keys behind an ' +
        'unchanged `jwks_uri` within 10 minutes).',
      ...MANAGE,
      parameters: CLIENT_ID,
      requestBody: jsonRequest('ClientUpdate', 'The members to change.'),
      responses: adminAnswers({
        '200': jsonResponse('ClientCreated', 'The registration after the change.', NO_STORE),
        ...JSON_BODY,
        '404': response('NotFound'),
        '409': response('Conflict'),
      }),
    },
    delete: {
      operationId: 'manage-delete-client',
      summary: 'Delete an OAuth client',
      description:
        'The registration and its principal go. Its refresh tokens stop at once, its access tokens at introspection at once ' +
        'and at the authorizer within `AUTHZ_CACHE_TTL`.',
      ...MANAGE,
      parameters: CLIENT_ID,
      responses: adminAnswers({
        '204': { description: 'Deleted.' },
        '404': response('NotFound'),
      }),
    },
  },
  '/manage/authenticators': {
    get: {
      operationId: 'manage-authenticator-trust',
      summary: 'The authenticator trust in force',
      description: 'AUTHENTICATOR_POLICY, ATTESTATION and the FIDO metadata BLOB in use (docs/authenticators.md), with the note the page shows: an AAGUID without a verified attestation is only a claim.',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('AuthenticatorTrust', 'Policy, attestation and metadata in use.', NO_STORE),
      }),
    },
  },
  '/manage/keys': {
    get: {
      operationId: 'manage-list-keys',
      summary: 'List token signing keys',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('SigningKeyList', 'Keys with their state and dates.', NO_STORE),
      }),
    },
  },
  '/manage/keys/rotate': {
    post: {
      operationId: 'manage-rotate-keys',
      summary: 'Promote the next signing key now',
      description: 'The active key retires (still published for the overlap) and a new next key is created.',
      ...MANAGE,
      responses: adminAnswers({
        '200': jsonResponse('SigningKeyList', 'Keys after the rotation.', NO_STORE),
        '409': response('Conflict'),
      }),
    },
  },
  '/manage/keys/{kid}': {
    parameters: [parameter('Kid')],
    delete: {
      operationId: 'manage-revoke-key',
      summary: 'Revoke a compromised signing key at once',
      description: 'It leaves the JWKS and the tokens it signed stop verifying.',
      ...MANAGE,
      responses: adminAnswers({
        '204': { description: 'Revoked.' },
        '404': response('NotFound'),
        '409': response('Conflict'),
      }),
    },
  },
  '/manage/audit': {
    get: {
      operationId: 'manage-list-audit-events',
      summary: 'Audit events',
      ...MANAGE,
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
      responses: adminAnswers({
        '200': jsonResponse('AuditEventList', 'Events, oldest first.', {
          ...NO_STORE,
          Link: { description: 'RFC 8288 `rel="next"`: the next page, when this one is full.', schema: { type: 'string' } },
        }),
        '400': response('BadRequest'),
      }),
    },
  },
}
