/**
 * Paths: agents acting for people (CONTRACT v2 "Agents acting for people"; docs/agents.md): the
 * agent's OpenID CIBA request, and the person's approvals and standing delegations.
 */
import { BEARER, JSON_BODY, NO_STORE, PUBLIC, SIGNED_IN, STORAGE, formRequest, jsonRequest, jsonResponse, response, type Json } from '../build.js'

const ID = (what: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description: `${what} id, base64url.`,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
})

/** A person's token from this service's own sign-in: other applications' and machines' get 403. */
const PERSON = { tags: ['account'], security: BEARER }
const FIRST_PARTY = { '403': response('Forbidden') }

export const agentPaths: Json = {
  '/oauth2/bc-authorize': {
    post: {
      operationId: 'oauth2-bc-authorize',
      summary: 'Backchannel authentication: an agent asks to act for a person (OpenID CIBA, poll mode)',
      description:
        'For clients registered with `"agent": true`, authenticated with private_key_jwt. The person sees the request ' +
        '(GET /me/approvals) and approves it with a passkey or denies it; the agent polls the token endpoint with ' +
        '`grant_type=urn:openid:params:grant-type:ciba`. Errors are RFC 6749 §5.2 JSON with the CIBA codes ' +
        '(`unknown_user_id`, `invalid_binding_message`, `unauthorized_client`) and RFC 9396 `invalid_authorization_details`.',
      tags: ['oauth2'],
      security: PUBLIC,
      requestBody: formRequest('BackchannelAuthenticationRequest', 'Who is asked, for what, and what they are shown.'),
      responses: {
        '200': jsonResponse('BackchannelAuthenticationResponse', 'The request is waiting for the person.', NO_STORE),
        '400': response('OAuthBadRequest'),
        '401': response('OAuthInvalidClient'),
        '413': response('OAuthPayloadTooLarge'),
        '503': response('OAuthUnavailable'),
      },
    },
  },
  '/me/approvals': {
    get: {
      operationId: 'list-my-approvals',
      summary: "Agents' pending requests to act for the signed-in person",
      ...PERSON,
      responses: {
        '200': jsonResponse('ApprovalList', 'Pending requests, oldest first.', NO_STORE),
        ...SIGNED_IN,
        ...FIRST_PARTY,
        ...STORAGE,
      },
    },
  },
  '/me/approvals/{id}': {
    parameters: [ID('Request')],
    delete: {
      operationId: 'deny-my-approval',
      summary: "Deny an agent's request",
      description: 'The agent\'s next poll answers `access_denied`. A request that is not pending (or not yours): 404.',
      ...PERSON,
      responses: {
        '204': { description: 'Denied.' },
        ...SIGNED_IN,
        ...FIRST_PARTY,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/me/approvals/{id}/options': {
    parameters: [ID('Request')],
    post: {
      operationId: 'my-approval-options',
      summary: 'WebAuthn request options to approve this request',
      description:
        "The challenge is bound to this request and person: a sign-in assertion, or one for another request, cannot approve it. " +
        "`allowCredentials` are the person's passkeys; user verification is required.",
      ...PERSON,
      responses: {
        '200': jsonResponse('PublicKeyCredentialRequestOptionsJSON', 'Options for navigator.credentials.get().', NO_STORE),
        ...SIGNED_IN,
        ...FIRST_PARTY,
        '404': response('NotFound'),
        ...STORAGE,
      },
    },
  },
  '/me/approvals/{id}/verify': {
    parameters: [ID('Request')],
    post: {
      operationId: 'approve-my-approval',
      summary: "Approve an agent's request with a passkey",
      description:
        'The assertion over the challenge of …/options, verified like a sign-in (same errors). The delegated token the agent ' +
        "then gets carries this assertion's auth_time, amr and acr.",
      ...PERSON,
      requestBody: jsonRequest('ApprovalVerifyRequest', 'The passkey assertion.'),
      responses: {
        '204': { description: 'Approved: the agent\'s next poll gets its token.' },
        ...JSON_BODY,
        ...SIGNED_IN,
        ...FIRST_PARTY,
        '404': response('NotFound'),
        '409': response('Conflict'),
        ...STORAGE,
      },
    },
  },
  '/me/delegations': {
    get: {
      operationId: 'list-my-delegations',
      summary: 'Standing delegations of the signed-in person',
      ...PERSON,
      responses: {
        '200': jsonResponse('DelegationList', 'Live standing delegations, most recently used first.', NO_STORE),
        ...SIGNED_IN,
        ...FIRST_PARTY,
        ...STORAGE,
      },
    },
  },
  '/me/delegations/{id}': {
    parameters: [ID('Delegation')],
    delete: {
      operationId: 'revoke-my-delegation',
      summary: 'Revoke a standing delegation',
      description:
        "Its refresh token answers `invalid_grant` at once; its access tokens are refused by the authorizer at once here and within AUTHZ_CACHE_TTL elsewhere.",
      ...PERSON,
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
}
