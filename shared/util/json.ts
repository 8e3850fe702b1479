/**
 * Reading an HTTP body that should be JSON but may not be: the page (web/http.ts) and the smoke
 * test (scripts/smoke.ts) both look at what the server said, whatever it said.
 */

/**
 * The JSON a body holds: `undefined` when it is empty or not JSON (an HTML error page from a
 * proxy, a cut-off answer), so the caller judges the status rather than a parse error.
 *
 * @example
 * jsonOrUndefined('{"a":1}') // { a: 1 }
 * jsonOrUndefined('<html>')  // undefined
 */
export function jsonOrUndefined(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
