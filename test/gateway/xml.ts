/**
 * A small, strict XML reader for the policy files (no dependency): elements, attributes, text,
 * comments, CDATA and the XML declaration. It refuses what an XML parser refuses in such files —
 * unbalanced or mismatched tags, unquoted or duplicate attributes, a raw `<` in an attribute,
 * a raw `&` that starts no entity, `--` inside a comment, more than one root — and reports the
 * line. Attribute values are normalised as XML 1.0 §3.3.3 says (tab, CR, LF → space) and entities
 * are decoded, so an expression reads exactly as APIM's XML reader would hand it over.
 */

export interface XmlElement {
  kind: 'element'
  name: string
  attrs: Record<string, string>
  children: XmlNode[]
  line: number
}
export type XmlNode = XmlElement | { kind: 'text'; text: string } | { kind: 'comment'; text: string }

const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

export class XmlError extends Error {}

export function decodeEntities(s: string, where: () => string): string {
  return s.replace(/&([^;&\s]*);?/g, (m, ref: string) => {
    if (!m.endsWith(';')) throw new XmlError(`${where()}: "&" must start an entity reference`)
    if (ref in ENTITIES) return ENTITIES[ref]!
    const num = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref)
    if (num) return String.fromCodePoint(parseInt(num[1] ?? num[2]!, num[1] ? 16 : 10))
    throw new XmlError(`${where()}: unknown entity &${ref};`)
  })
}

export function parseXml(src: string): XmlElement {
  let i = 0
  const lineAt = (pos: number) => src.slice(0, pos).split('\n').length
  const fail = (msg: string, pos = i): never => {
    throw new XmlError(`line ${lineAt(pos)}: ${msg}`)
  }
  const stack: XmlElement[] = []
  let root: XmlElement | undefined

  const addChild = (node: XmlNode) => {
    const parent = stack[stack.length - 1]
    if (parent) parent.children.push(node)
    else if (node.kind === 'text' && node.text.trim()) fail('text outside the root element')
  }

  if (src.startsWith('<?xml')) {
    const end = src.indexOf('?>')
    if (end < 0) fail('unterminated XML declaration')
    i = end + 2
  }
  while (i < src.length) {
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4)
      if (end < 0) fail('unterminated comment')
      const text = src.slice(i + 4, end)
      if (text.includes('--') || text.endsWith('-')) fail('"--" inside a comment')
      addChild({ kind: 'comment', text })
      i = end + 3
    } else if (src.startsWith('<![CDATA[', i)) {
      if (!stack.length) fail('CDATA outside the root element')
      const end = src.indexOf(']]>', i)
      if (end < 0) fail('unterminated CDATA section')
      addChild({ kind: 'text', text: src.slice(i + 9, end) })
      i = end + 3
    } else if (src.startsWith('</', i)) {
      const m = NAME.exec(src.slice(i + 2))
      if (!m) fail('malformed end tag')
      const name = m![0]
      let j = i + 2 + name.length
      while (/\s/.test(src[j] ?? '')) j++
      if (src[j] !== '>') fail(`malformed end tag </${name}`)
      const open = stack.pop()
      if (!open) fail(`end tag </${name}> without a start tag`)
      if (open!.name !== name) fail(`end tag </${name}> does not match <${open!.name}> of line ${open!.line}`)
      i = j + 1
    } else if (src[i] === '<') {
      const start = i
      const m = NAME.exec(src.slice(i + 1))
      if (!m) fail('malformed start tag')
      const el: XmlElement = { kind: 'element', name: m![0], attrs: {}, children: [], line: lineAt(start) }
      i += 1 + el.name.length
      for (;;) {
        const ws = /^\s*/.exec(src.slice(i))![0].length
        i += ws
        if (src.startsWith('/>', i) || src[i] === '>') break
        if (!ws) fail(`expected whitespace before an attribute of <${el.name}>`)
        const a = NAME.exec(src.slice(i))
        if (!a) fail(`malformed attribute in <${el.name}>`)
        const attr = a![0]
        i += attr.length
        while (/\s/.test(src[i] ?? '')) i++
        if (src[i] !== '=') fail(`attribute ${attr} of <${el.name}> has no value`)
        i++
        while (/\s/.test(src[i] ?? '')) i++
        const q = src[i]
        if (q !== '"' && q !== "'") fail(`attribute ${attr} of <${el.name}> is not quoted`)
        const end = src.indexOf(q!, i + 1)
        if (end < 0) fail(`unterminated value of attribute ${attr}`)
        const raw = src.slice(i + 1, end)
        if (raw.includes('<')) fail(`raw "<" in attribute ${attr} of <${el.name}>`, i)
        if (attr in el.attrs) fail(`duplicate attribute ${attr} in <${el.name}>`)
        const where = () => `line ${lineAt(i)}, attribute ${attr} of <${el.name}>`
        el.attrs[attr] = decodeEntities(raw.replace(/[\t\r\n]/g, ' '), where)
        i = end + 1
      }
      const selfClosing = src.startsWith('/>', i)
      i += selfClosing ? 2 : 1
      if (!stack.length) {
        if (root) fail('more than one root element', start)
        root = el
      } else addChild(el)
      if (!selfClosing) stack.push(el)
    } else {
      const end = src.indexOf('<', i)
      const raw = src.slice(i, end < 0 ? src.length : end)
      if (raw.includes(']]>')) fail('"]]>" in text')
      const at = i
      addChild({ kind: 'text', text: decodeEntities(raw, () => `line ${lineAt(at)}, text`) })
      i = end < 0 ? src.length : end
    }
  }
  if (stack.length) fail(`<${stack[stack.length - 1]!.name}> of line ${stack[stack.length - 1]!.line} is never closed`)
  if (!root) fail('no root element')
  return root!
}

/** Child elements only. */
export const elements = (el: XmlElement): XmlElement[] =>
  el.children.filter((c): c is XmlElement => c.kind === 'element')

/** Every element below `el` (depth first, document order) that satisfies `pred`. */
export function findAll(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = []
  const walk = (e: XmlElement) => {
    for (const c of elements(e)) {
      if (pred(c)) out.push(c)
      walk(c)
    }
  }
  walk(el)
  return out
}

/** The concatenated text of an element (entities decoded). */
export const textOf = (el: XmlElement): string =>
  el.children.map((c) => (c.kind === 'text' ? c.text : c.kind === 'element' ? textOf(c) : '')).join('')

/** The document without comments and insignificant whitespace, for comparing two documents. */
export function canonical(el: XmlElement): string {
  const attrs = Object.entries(el.attrs)
    .map(([k, v]) => ` ${k}=${JSON.stringify(v.replace(/\s+/g, ' ').trim())}`)
    .join('')
  const inner = el.children
    .map((c) => (c.kind === 'element' ? canonical(c) : c.kind === 'text' ? c.text.replace(/\s+/g, ' ').trim() : ''))
    .join('')
  return `<${el.name}${attrs}>${inner}</${el.name}>`
}
