/** shared/oauth/pkce.ts against RFC 7636 Appendix B. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CODE_CHALLENGE, verifyPkce } from '../../shared/oauth/pkce.js'

describe('PKCE RFC7636 §4.6 (S256)', () => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

  it('Appendix B: the example verifier matches its challenge', async () => {
    assert.match(challenge, CODE_CHALLENGE)
    assert.equal(await verifyPkce({ verifier, expectedChallenge: challenge }), true)
  })

  it('another, a malformed (§4.1: 43–128 unreserved) or a missing verifier does not', async () => {
    for (const v of [verifier.replace('d', 'e'), 'short', `${verifier}!`, 'a'.repeat(129), undefined, challenge])
      assert.equal(await verifyPkce({ verifier: v, expectedChallenge: challenge }), false, String(v))
  })
})
