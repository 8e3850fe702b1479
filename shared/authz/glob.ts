/**
 * Permission matching (CONTRACT "Authorizer"): path globs and request paths.
 *
 * Paths are compared after normalisation: query and fragment dropped, percent-escapes decoded
 * once per segment, empty segments (`//`) and a trailing slash removed. A path whose decoded
 * segments contain `.` or `..`, a slash, a backslash or a control character is refused outright
 * (no traversal tricks: `/orders/%2e%2e/admin` never matches `/orders/**`). Matching is
 * case-sensitive, so a case variant of a permitted path is denied (fail closed).
 *
 * Globs: `*` is one whole segment (non-empty); `**` is any number of segments (zero or more);
 * `*` inside a segment matches any characters but `/` (e.g. `/files/*.pdf`).
 */

export type NormalisedPath = { ok: true; segments: string[]; path: string } | { ok: false; reason: string }

const BAD_SEGMENT = /[\\/\u0000-\u001f\u007f]/

export function normalisePath(raw: string): NormalisedPath {
  let p = raw
  const cut = p.search(/[?#]/)
  if (cut >= 0) p = p.slice(0, cut)
  if (!p.startsWith('/')) return { ok: false, reason: 'path must start with /' }
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

/** Validates a glob (throws TypeError with a reason) and compiles it once. */
export function compileGlob(glob: string): PathMatcher {
  if (typeof glob !== 'string' || !glob.startsWith('/') || glob.length > 512)
    throw new TypeError('path must be a glob starting with / (at most 512 characters)')
  const parts = glob.split('/').filter((s) => s !== '')
  const res: (RegExp | '**')[] = parts.map((seg) => {
    if (seg === '**') return '**'
    if (seg.includes('**')) throw new TypeError('** must be a whole segment')
    if (seg === '.' || seg === '..' || BAD_SEGMENT.test(seg)) throw new TypeError(`bad segment "${seg}"`)
    if (seg === '*') return /^[^/]+$/
    const body = seg
      .split('*')
      .map((lit) => lit.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')
    return new RegExp(`^${body}$`)
  })
  return (segments) => matchFrom(res, 0, segments, 0)
}

function matchFrom(pat: (RegExp | '**')[], pi: number, segs: string[], si: number): boolean {
  for (; pi < pat.length; pi++) {
    const p = pat[pi]!
    if (p === '**') {
      if (pi === pat.length - 1) return true
      for (let k = si; k <= segs.length; k++) if (matchFrom(pat, pi + 1, segs, k)) return true
      return false
    }
    if (si >= segs.length || !p.test(segs[si]!)) return false
    si++
  }
  return si === segs.length
}
