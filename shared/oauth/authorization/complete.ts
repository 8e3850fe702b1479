/**
 * POST /api/oauth2/authorize/options and …/complete: the hosted page's two calls.
 *
 * options: opens the page's handle, issues WebAuthn request options (the contract's JSON form,
 * usernameless unless a username is given) and returns the handle bound to their challenge.
 *
 * complete: the passkey assertion must be over the bound handle's challenge; then it is verified
 * and the sign-in recorded with a new session for the client (shared/webauthn/authentication.ts
 * `signInWithPasskey`) that carries the code binding: client, redirect URI, PKCE challenge,
 * nonce, 60 s expiry. The answer is where the page sends the browser: the redirect URI with
 * `code`, `state` and `iss`.
 */
import type * as v from 'valibot'
import type { Core } from '../../core.js'
import { SIGN_IN_EXPIRED, type AuthorizeOptionsRequest } from '../../schemas/oauth.js'
import { ServiceError } from '../../errors.js'
import type { SessionRecord, UserRecord } from '../../store/types.js'
import { decodeClientData } from '../../webauthn/checks.js'
import { authenticationOptions, signInWithPasskey } from '../../webauthn/authentication.js'
import { asAuthenticationResponse } from '../../webauthn/shape.js'
import { CODE_TTL_SECONDS, sealCode } from './code.js'
import { rememberConsent } from '../../account/consents.js'
import type { RequestOrigin } from '../../audit/context.js'
import { ClientMetadataError, findClient } from '../clientMetadata.js'
import { redirectUriRegistered } from './checkRedirectUri.js'
import { openRequest, sealRequest, type SealedRequest } from './handle.js'
import { authorizationResponseUrl } from './redirect.js'
import { resourceRefusal } from '../resource.js'
import { allowedScopes, scopeRefusal, ungrantable } from '../scopes.js'

async function requestOf(core: Core, handle: string): Promise<SealedRequest> {
  const request = await openRequest(core, handle)
  if (!request) throw new ServiceError('invalid_request', SIGN_IN_EXPIRED)
  return request
}

export async function authorizeOptions(core: Core, input: v.InferOutput<typeof AuthorizeOptionsRequest>) {
  const request = await requestOf(core, input.request)
  const options = await authenticationOptions(core, { username: input.username })
  const { challenge: _previous, ...base } = request
  return { options, request: await sealRequest(core, { ...base, challenge: options.challenge }) }
}

export async function completeAuthorization(
  core: Core,
  input: { request: string; credential: unknown },
  /** The request's audit origin: its User-Agent is kept on the session the code hands over. */
  from: RequestOrigin = {},
): Promise<{ redirect_to: string; user: UserRecord; session: SessionRecord }> {
  const { config, store, clock } = core
  const request = await requestOf(core, input.request)
  if (!request.challenge) throw new ServiceError('invalid_request', 'request must be the handle returned by …/authorize/options')
  const response = asAuthenticationResponse(input.credential)
  // The assertion must answer this request's challenge (before the challenge is consumed).
  if (decodeClientData(response.response.clientDataJSON).challenge !== request.challenge)
    throw new ServiceError('challenge_unknown', 'This passkey response was made for another sign-in request')
  const client = await findClient(core, request.clientId).catch((e: unknown) => {
    if (e instanceof ClientMetadataError) return undefined
    throw e
  })
  if (!client || client.kind !== 'public' || !redirectUriRegistered(client, request.redirectUri))
    throw new ServiceError('invalid_request', 'The application is no longer registered for this redirect URI')
  // The scopes the client may have now (its registration or SCOPES may have changed meanwhile).
  const refused = ungrantable(request.scope, allowedScopes(config, client))
  if (refused.length) throw new ServiceError('invalid_scope', scopeRefusal(refused))
  // A code is only worth making if its exchange can sign (no session behind an unusable code).
  await core.keyRing.signingKey()
  // RFC 8707: the code remembers the resource as its session's audience (one of AUDIENCES now:
  // they may have changed since the request was sealed).
  const audience = request.resource ?? config.audiences[0]!
  const refusedResource = request.resource === undefined ? undefined : resourceRefusal(config, request.resource)
  if (refusedResource) throw new ServiceError('invalid_request', `The API this application asked for is no longer served here: ${refusedResource}`)
  const { user, session } = await signInWithPasskey(core, {
    response,
    clientId: client.id,
    audience,
    // The passkey assertion over this request's challenge is the approval
    // (shared/account/consents.ts), recorded before the session: a failure leaves none.
    beforeSession: async (user) => {
      await rememberConsent(core, { userId: user.id, client, scope: request.scope, resource: audience, from })
    },
    scope: request.scope,
    userAgent: from.userAgent,
    // acr_values (RFC 9470 §4): a passkey whose acr reaches none of them is refused before any
    // session exists; max_age and prompt=login are met by this very assertion.
    ...(request.acrValues ? { acceptAcr: request.acrValues } : {}),
    authorizationCode: {
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
      ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}),
      ...(request.acrValues ? { acrValues: request.acrValues } : {}),
      ...(request.promptLogin ? { promptLogin: true as const } : {}),
      ...(request.dpopJkt !== undefined ? { dpopJkt: request.dpopJkt } : {}),
      expiresAt: clock.now() + CODE_TTL_SECONDS * 1000,
    },
  })
  const code = await sealCode(core, { userId: user.id, sessionId: session.id })
  return { redirect_to: authorizationResponseUrl(request.redirectUri, config.issuer, { code, state: request.state }), user, session }
}
