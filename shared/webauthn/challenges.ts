/**
 * WebAuthn challenges: random, short-lived, single use.
 *
 * A challenge carries its own context sealed inside it (AES-256-GCM under a key derived from
 * KEY_ENCRYPTION_KEY): the ceremony, the expiry, and the account it is bound to. Storage keeps
 * only a single-use marker, so consuming a challenge is one delete: exactly one of two
 * concurrent verify attempts gets `true` from the store. The content is encrypted, not just
 * signed, so that a challenge for an unknown username cannot be told from one for a known user.
 *
 * ≥ 32 random bytes per challenge, see WebAuthn #sctn-cryptographic-challenges (16 bytes minimum).
 */
import { ServiceError } from '../errors.js'
import type { Store } from '../store/types.js'
import { encode } from '../util/base64url.js'
import type { Clock } from '../util/clock.js'
import { randomBytes } from '../util/random.js'
import { open, seal, type SealKey } from '../crypto/kek.js'

/**
 * `approval`: a passkey assertion that approves one agent's request (CIBA, shared/agents/): bound
 * to that request and its person, so neither a sign-in assertion nor another request's can
 * approve it, and an approval assertion cannot sign in.
 */
export type Ceremony = 'registration' | 'authentication' | 'approval'

const CODE: Record<Ceremony, Sealed['c']> = { registration: 'r', authentication: 'a', approval: 'p' }
const CEREMONY: Record<Sealed['c'], Ceremony> = { r: 'registration', a: 'authentication', p: 'approval' }

export interface ChallengeContext {
  ceremony: Ceremony
  /** Account the ceremony is for: the new user's id (sign-up), the signed-in user (add passkey), or the named user (sign-in). */
  userId?: string
  /** Sign-up only. */
  username?: string
  displayName?: string
  /** Registration that adds a passkey to an existing account. */
  addToAccount?: boolean
  /** Approval: the backchannel authentication request it approves. */
  requestId?: string
  /** Sign-up with an invitation: its id (the verify reads it again and consumes it). */
  invitationId?: string
  /** Recovery: the id of the recovery link's issue (a newer issue makes this challenge's use fail). */
  recoveryId?: string
  /** Absolute expiry, ms. */
  expiresAt: number
}

interface Sealed {
  r: string // 32 random bytes
  c: 'r' | 'a' | 'p'
  e: number
  q?: string
  u?: string
  n?: string
  d?: string
  a?: 1
  i?: string
  x?: string
}

const AAD = 'webauthn-challenge'
const te = new TextEncoder()
const td = new TextDecoder()

export class Challenges {
  constructor(
    /**
     * `key`: while KEY_ENCRYPTION_KEY changes, a rotating key: new challenges are sealed with the
     * current KEK, and those issued before the switch (minutes old at most) still open.
     */
    private readonly deps: { key: Promise<SealKey>; store: Store; clock: Clock; ttlSeconds: number },
  ) {}

  /** Issues a challenge: seals its context and stores the single-use marker. */
  async issue(ctx: Omit<ChallengeContext, 'expiresAt'>): Promise<{ challenge: string; expiresAt: number }> {
    const expiresAt = this.deps.clock.now() + this.deps.ttlSeconds * 1000
    const nonce = randomBytes(32)
    const body: Sealed = { r: encode(nonce), c: CODE[ctx.ceremony], e: expiresAt }
    if (ctx.userId) body.u = ctx.userId
    if (ctx.username !== undefined) body.n = ctx.username
    if (ctx.displayName !== undefined) body.d = ctx.displayName
    if (ctx.addToAccount) body.a = 1
    if (ctx.requestId !== undefined) body.q = ctx.requestId
    if (ctx.invitationId) body.i = ctx.invitationId
    if (ctx.recoveryId) body.x = ctx.recoveryId
    const challenge = await seal(await this.deps.key, te.encode(JSON.stringify(body)), AAD)
    await this.deps.store.putChallenge(markerId(body.r), expiresAt)
    return { challenge, expiresAt }
  }

  /**
   * Consumes the challenge echoed in clientDataJSON, whatever the outcome of the rest of the
   * verification (CONTRACT: "consumed by its first verify attempt, successful or not").
   * challenge_unknown: not ours, already used, or of the other ceremony; challenge_expired: too old.
   */
  async consume(challenge: unknown, expected: Ceremony): Promise<ChallengeContext> {
    if (typeof challenge !== 'string' || challenge.length > 2048)
      throw new ServiceError('challenge_unknown', 'The challenge was not issued by this service')
    const plain = await open(await this.deps.key, challenge, AAD)
    if (!plain) throw new ServiceError('challenge_unknown', 'The challenge was not issued by this service')
    const body = JSON.parse(td.decode(plain)) as Sealed
    const fresh = await this.deps.store.consumeChallenge(markerId(body.r))
    // Past its lifetime is challenge_expired whether or not its marker is still there
    // (housekeeping deletes expired markers).
    if (this.deps.clock.now() > body.e) throw new ServiceError('challenge_expired', 'The challenge expired; start again')
    if (!fresh) throw new ServiceError('challenge_unknown', 'The challenge was already used')
    const ceremony: Ceremony = CEREMONY[body.c] ?? 'authentication'
    if (ceremony !== expected)
      throw new ServiceError('challenge_unknown', `The challenge was issued for ${ceremony}, not ${expected}`)
    return {
      ceremony,
      userId: body.u,
      username: body.n,
      displayName: body.d,
      addToAccount: body.a === 1,
      ...(body.q !== undefined ? { requestId: body.q } : {}),
      ...(typeof body.i === 'string' ? { invitationId: body.i } : {}),
      ...(typeof body.x === 'string' ? { recoveryId: body.x } : {}),
      expiresAt: body.e,
    }
  }
}

/** The marker key: 16 of the nonce's bytes are enough to be unique; base64url is a safe table key. */
function markerId(nonceB64u: string): string {
  return nonceB64u.slice(0, 22)
}
