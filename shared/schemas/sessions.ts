/** The sessions of an account (CONTRACT v2 "Sessions"): what the lists show, never a secret. */
import * as v from 'valibot'
import { Base64URL, DateTime, described } from './common.js'

export const Session = described(
  v.object({
    id: described(Base64URL, 'The session id (the `sid` claim of its tokens).'),
    createdAt: described(DateTime, 'The sign-in.'),
    lastUsedAt: described(DateTime, 'The last sign-in or refresh of this session.'),
    expiresAt: described(DateTime, 'When its refresh token stops working, unless revoked first.'),
    clientId: described(v.string(), 'The application it was issued to (`passkey-web`: this service\'s own page).'),
    credentialId: v.optional(described(Base64URL, 'The passkey it signed in with.')),
    userAgent: v.optional(described(v.string(), 'The User-Agent of the sign-in, at most 256 characters.')),
    current: described(
      v.boolean(),
      'True for the session of the token that asked (for an administrator: only in the list of their own account).',
    ),
  }),
  'A live session: not revoked, not expired.',
)
export type SessionView = v.InferOutput<typeof Session>

export const SessionList = described(v.array(Session), 'Live sessions, most recently used first.')

export const Consent = described(
  v.object({
    clientId: described(v.string(), 'The application: a registered client_id, or the https URL of its client ID metadata document.'),
    clientName: described(v.string(), 'Its name when the person approved it.'),
    registered: described(v.boolean(), 'False for an application described by a client ID metadata document (registered by no administrator).'),
    scope: described(v.string(), 'The scopes approved, space-separated.'),
    resources: described(v.array(v.string()), 'The APIs (token audiences, RFC 8707) approved.'),
    createdAt: described(DateTime, 'The first approval.'),
    updatedAt: described(DateTime, 'The last approval that added to it.'),
  }),
  'A remembered approval of an application, given with a passkey on the hosted sign-in page.',
)
export type ConsentView = v.InferOutput<typeof Consent>

export const ConsentList = described(v.array(Consent), 'The applications the person approved, most recent first.')
