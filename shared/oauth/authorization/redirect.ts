/**
 * The authorization response (RFC 6749 §4.1.2 / §4.1.2.1) as a redirect URL: the parameters are
 * added to the redirect URI's query, keeping its own (§3.1.2), plus `iss` (RFC 9207) so that a
 * client talking to several servers can tell which one answered.
 */
export function authorizationResponseUrl(
  redirectUri: string,
  issuer: string,
  params: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.append(k, v)
  url.searchParams.append('iss', issuer)
  return url.href
}
