/**
 * Permission matching (CONTRACT "Authorizer"): path globs and request paths.
 *
 * Paths are compared after normalisation: query and fragment dropped, percent-escapes decoded
 * once per segment, empty segments (`//`) and a trailing slash removed. Refused outright, before
 * any decoding (CONTRACT v2 "Ambiguous paths at the authorizer"), because a backend that decodes
 * differently from us could serve another path than the one we matched: a `;` (matrix
 * parameters: `/orders/..;/admin` is `/admin` to a backend that strips them), a percent-encoded
 * `%` (`%25`: double encoding, `%252e%252e` is `..` to a backend that decodes twice) and an
 * encoded `/`, `\`, `.` or `;` (`%2F`, `%5C`, `%2E`, `%3B`). After decoding, a `.` or `..` segment, a
 * backslash or a control character is refused too. Matching is case-sensitive, so a case variant
 * of a permitted path is denied (fail closed).
 *
 * Globs: `*` is one whole segment (non-empty); `**` is any number of segments (zero or more);
 * `*` inside a segment matches any characters but `/` (e.g. `/files/*.pdf`).
 */

export type NormalisedPath = { ok: true; segments: string[]; path: string } | { ok: false; reason: string }

const BAD_SEGMENT = /[\\/\u0000-\u001f\u007f]/
/** Raw (undecoded) path contents no backend may read differently from us: see the module note. */
const AMBIGUOUS: readonly [RegExp, string][] = [
  [/;|%3b/i, "path has a ';' (matrix parameters are refused: a backend that strips them would serve another path)"],
  [/%25/, "path has a percent-encoded '%' (%25: a backend that decodes twice would serve another path)"],
  [/%(2f|5c)/i, "path has an encoded '/' or '\\' (%2F, %5C)"],
  [/%2e/i, "path has an encoded '.' (%2E)"],
]

export function normalisePath(raw: string): NormalisedPath {
  let p = raw
  const cut = p.search(/[?#]/)
  if (cut >= 0) p = p.slice(0, cut)
  if (!p.startsWith('/')) return { ok: false, reason: 'path must start with /' }
  if (p.includes(';') || p.includes('%')) for (const [re, reason] of AMBIGUOUS) if (re.test(p)) return { ok: false, reason }
  const segments: string[] = []
  for (const enc of p.split('/')) {
    if (enc === '') continue
    let seg: string
    try {
      seg = decodeURIComponent(enc)
    } catch {
      return { ok: false, reason: 'path has a malformed percent-escape' }
    }
    if (seg === '.' || seg === '..') return { ok: false, reason: 'path has a dot segment' }
    if (BAD_SEGMENT.test(seg)) return { ok: false, reason: 'path has an encoded slash or control character' }
    segments.push(seg)
  }
  return { ok: true, segments, path: '/' + segments.join('/') }
}

export type PathMatcher = (segments: string[]) => boolean

type SegmentMatcher = (segment: string) => boolean

/**
 * Validates a glob (throws TypeError with a reason) and compiles it once. Matching is linear-ish
 * in the path whatever the glob: no regular expressions (no backtracking), and `**` is tried
 * with memoised positions.
 */
export function compileGlob(glob: string): PathMatcher {
  if (typeof glob !== 'string' || !glob.startsWith('/') || glob.length > 512)
    throw new TypeError('path must be a glob starting with / (at most 512 characters)')
  const parts = glob.split('/').filter((s) => s !== '')
  const pat: (SegmentMatcher | '**')[] = parts.map((seg) => {
    if (seg === '**') return '**'
    if (seg.includes('**')) throw new TypeError('** must be a whole segment')
    if (seg === '.' || seg === '..' || BAD_SEGMENT.test(seg)) throw new TypeError(`bad segment "${seg}"`)
    if (seg === '*') return (s) => s.length > 0
    if (!seg.includes('*')) return (s) => s === seg
    return wildcardSegment(seg.split('*'))
  })
  return (segments) => matchFrom(pat, segments)
}

/** `a*b*c` within one segment: prefix, suffix, and the middle literals leftmost in order. */
function wildcardSegment(lits: string[]): SegmentMatcher {
  const first = lits[0]!
  const last = lits[lits.length - 1]!
  const middle = lits.slice(1, -1).filter((l) => l !== '')
  return (s) => {
    if (s.length < first.length + last.length || !s.startsWith(first) || !s.endsWith(last)) return false
    let at = first.length
    const end = s.length - last.length
    for (const lit of middle) {
      const i = s.indexOf(lit, at)
      if (i < 0 || i + lit.length > end) return false
      at = i + lit.length
    }
    return true
  }
}

function matchFrom(pat: (SegmentMatcher | '**')[], segs: string[]): boolean {
  const failed = new Set<number>()
  const width = segs.length + 1
  const go = (pi: number, si: number): boolean => {
    for (; pi < pat.length; pi++) {
      const p = pat[pi]!
      if (p === '**') {
        if (pi === pat.length - 1) return true
        if (failed.has(pi * width + si)) return false
        for (let k = si; k <= segs.length; k++) if (go(pi + 1, k)) return true
        failed.add(pi * width + si)
        return false
      }
      if (si >= segs.length || !p(segs[si]!)) return false
      si++
    }
    return si === segs.length
  }
  return go(0, 0)
}
