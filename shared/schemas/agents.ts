/**
 * Agents acting for people (CONTRACT v2 "Agents acting for people"; docs/agents.md): the OpenID
 * CIBA backchannel request and poll, the person's pending approvals, standing delegations, and
 * RFC 9396 `authorization_details` of type `api_request`.
 */
import * as v from 'valibot'
import { Base64URL, DateTime, described } from './common.js'
import { AuthenticationResponseJSON } from './webauthn.js'

export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba'
const JWT_BEARER = v.picklist(['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'])
const ASSERTION = described(v.string(), "JWT signed with a key of the registered agent (iss = sub = client_id).")

export const ApiRequestDetail = described(
  v.object({
    type: v.picklist(['api_request']),
    method: described(v.string(), 'HTTP method (stored upper-case).'),
    path: described(v.string(), 'The operation path as the authorizer normalises it (decoded segments, no trailing slash).'),
    apiId: v.optional(described(v.string(), 'The APIM API id, when the call is for one API.')),
  }),
  'RFC 9396 authorization details: approval of exactly one API call, allowed once at the authorizer.',
)
export type ApiRequestDetailBody = v.InferOutput<typeof ApiRequestDetail>

export const BackchannelAuthenticationRequest = described(
  v.object({
    login_hint: described(v.string(), 'The username of the person asked.'),
    scope: described(v.string(), 'Space-separated scopes: at most those the agent was registered with (and openid, profile).'),
    binding_message: described(v.pipe(v.string(), v.maxLength(100)), 'Shown to the person with the request (at most 100 printable characters).'),
    authorization_details: v.optional(
      described(v.string(), 'RFC 9396: a JSON array of `api_request` details (at most 10). Asks for approval per action: no refresh token.'),
    ),
    requested_expiry: v.optional(described(v.string(), 'Seconds the request may wait for the person (default 300, at most 600).')),
    client_assertion_type: JWT_BEARER,
    client_assertion: ASSERTION,
    client_id: v.optional(v.string()),
  }),
  'OpenID CIBA Core §7.1, poll mode; the agent authenticates with private_key_jwt.',
)

export const BackchannelAuthenticationResponse = described(
  v.object({
    auth_req_id: described(v.string(), 'Opaque; single use at the token endpoint.'),
    expires_in: v.pipe(v.number(), v.integer()),
    interval: described(v.pipe(v.number(), v.integer()), 'Seconds to wait between polls; faster polls answer `slow_down`.'),
  }),
  'OpenID CIBA Core §7.3.',
)

export const CibaGrantRequest = described(
  v.object({
    grant_type: v.picklist([CIBA_GRANT]),
    auth_req_id: v.string(),
    client_assertion_type: JWT_BEARER,
    client_assertion: ASSERTION,
    client_id: v.optional(v.string()),
  }),
  'OpenID CIBA Core §10.1 (poll mode): `authorization_pending`, `slow_down`, `access_denied`, `expired_token` until the person decided; ' +
    'then the delegated token, once.',
)

export const Approval = described(
  v.object({
    id: described(Base64URL, 'The request id (for …/options, …/verify and DELETE).'),
    clientId: described(v.string(), 'The agent asking.'),
    clientName: v.string(),
    bindingMessage: v.string(),
    scope: v.string(),
    authorizationDetails: v.optional(v.array(ApiRequestDetail)),
    createdAt: DateTime,
    expiresAt: DateTime,
  }),
  "An agent's pending request to act for the person.",
)
export type ApprovalView = v.InferOutput<typeof Approval>
export const ApprovalList = described(v.array(Approval), 'Pending requests, oldest first.')

export const ApprovalVerifyRequest = described(
  v.object({ credential: AuthenticationResponseJSON }),
  "A passkey assertion (one of the person's passkeys, user verification) over the challenge of …/options for this request.",
)

export const Delegation = described(
  v.object({
    id: described(Base64URL, 'The delegation id.'),
    clientId: described(v.string(), 'The agent.'),
    clientName: v.string(),
    scope: v.string(),
    createdAt: DateTime,
    lastUsedAt: v.optional(DateTime),
  }),
  'A standing delegation: the agent may act for the person (and refresh its token) until it is revoked or expires.',
)
export type DelegationView = v.InferOutput<typeof Delegation>
export const DelegationList = described(v.array(Delegation), 'Live standing delegations, most recently used first.')
