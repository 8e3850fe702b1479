/**
 * apim/policy.xml and the dev gateway agree: the XML is read with a strict XML reader and every
 * name, number and format in it is compared with `POLICY` (apim/policy.ts), the object the
 * gateway (local/gateway.ts) takes all of them from. The helpers that re-state the policy's C#
 * expressions in TypeScript are checked against independent computations.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  NAMED_VALUES,
  POLICY,
  decisionCacheKey,
  jwtErrorDescription,
  operationPath,
  presentedToken,
  readDecision,
  sanitizeParam,
  schemeOf,
  tokenOf,
  wwwAuthenticate,
  withResourceMetadata,
  resourceMetadataUrl,
  protectedResourceMetadata,
} from '../../apim/policy.js'
import { SAMPLE_API } from '../../local/echo.js'
import { DPOP_ALGS } from '../../shared/oauth/dpop.js'
import { POLICY as GATEWAY_POLICY } from '../../local/gateway.js'
import { canonical, elements, findAll, parseXml, textOf, type XmlElement } from './xml.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const read = (p: string) => readFileSync(`${root}/${p}`, 'utf8')
const policySrc = read('apim/policy.xml')
const miSrc = read('apim/policy-managed-identity.xml')
const fragmentSrc = read('apim/fragment-protected-resource.xml')
const policy = parseXml(policySrc)
const mi = parseXml(miSrc)
const namedValuesDoc = JSON.parse(read('apim/named-values.json')) as {
  namedValues: { name: string; description: string; secret: boolean; example: string; local: string; usedBy: string[] }[]
}

const section = (doc: XmlElement, name: string) => {
  const s = elements(doc).find((e) => e.name === name)
  assert.ok(s, `<${name}> section`)
  return s!
}
const one = (scope: XmlElement, pred: (e: XmlElement) => boolean, what: string) => {
  const found = findAll(scope, pred)
  assert.equal(found.length, 1, `exactly one ${what}, found ${found.length}`)
  return found[0]!
}
const named = (name: string) => `{{${name}}}`
const variable = (doc: XmlElement, name: string) =>
  one(doc, (e) => e.name === 'set-variable' && e.attrs.name === name && e.attrs.value !== '@(true)', `set-variable ${name}`).attrs.value!
const header = (scope: XmlElement, name: string) =>
  findAll(scope, (e) => e.name === 'set-header' && e.attrs.name?.toLowerCase() === name.toLowerCase())
const csharp = (s: string) => JSON.stringify(s) // a C# regular string literal of s (ASCII)
const usedNamedValues = (src: string) => new Set([...src.replace(/<!--[\s\S]*?-->/g, '').matchAll(/\{\{([^}]+)\}\}/g)].map((m) => m[1]!))

describe('apim/policy.xml: an XML document APIM imports as format "xml"', () => {
  it('should be well-formed, with the four sections in order', () => {
    for (const doc of [policy, mi]) {
      assert.equal(doc.name, 'policies')
      assert.deepEqual(
        elements(doc).map((e) => e.name),
        ['inbound', 'backend', 'outbound', 'on-error'],
      )
      for (const s of elements(doc)) assert.ok(findAll(s, (e) => e.name === 'base').length === 1, `<base /> in ${s.name}`)
    }
  })

  it('should hold expressions that survive attribute normalisation and balance their brackets', () => {
    // An XML reader folds line breaks in attributes into spaces: a // comment would swallow the rest.
    const expressions = [...findAll(policy, () => true), ...findAll(mi, () => true)].flatMap((e) => [
      ...Object.values(e.attrs).filter((v) => v.startsWith('@')),
      ...(e.children.some((c) => c.kind === 'text' && c.text.trim().startsWith('@')) ? [textOf(e).trim()] : []),
    ])
    assert.ok(expressions.length > 20)
    for (const x of expressions) {
      const code = x.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/'(?:[^'\\]|\\.)'/g, "''")
      assert.ok(!code.includes('//'), `no // comment in ${x.slice(0, 60)}`)
      for (const [open, close] of ['()', '{}', '[]']) {
        let depth = 0
        for (const ch of code) {
          if (ch === open) depth++
          if (ch === close) depth--
          assert.ok(depth >= 0, `${open}${close} balanced in ${x.slice(0, 60)}`)
        }
        assert.equal(depth, 0, `${open}${close} balanced in ${x.slice(0, 60)}`)
      }
      assert.match(x, /^@\(|^@\{/)
    }
  })
})

describe('inbound step 1: client X-User-* headers', () => {
  it('should delete exactly POLICY.stripHeaders before anything else', () => {
    const inbound = elements(section(policy, 'inbound'))
    const first = inbound.slice(0, POLICY.stripHeaders.length)
    assert.deepEqual(
      first.map((e) => [e.name, e.attrs.name, e.attrs['exists-action']]),
      POLICY.stripHeaders.map((h) => ['set-header', h, 'delete']),
    )
    const jwtAt = inbound.findIndex((e) => e.name === 'validate-jwt')
    assert.ok(jwtAt > POLICY.stripHeaders.length - 1)
    // The headers the policy sets for the backend are exactly the ones it strips.
    assert.deepEqual([...POLICY.stripHeaders].sort(), [POLICY.backend.userIdHeader, POLICY.backend.rolesHeader, POLICY.backend.actorHeader].sort())
  })
})

describe('inbound step 2: validate-jwt', () => {
  const jwt = one(policy, (e) => e.name === 'validate-jwt', 'validate-jwt')
  /** token-value (RFC 9449 §7.1): the credentials of a Bearer or DPoP Authorization, like presentedToken. */
  const TOKEN_VALUE = `@(Regex.Match(context.Request.Headers.GetValueOrDefault(${csharp(POLICY.jwt.headerName)}, ""), "^(?i:${POLICY.jwt.schemes.map((x) => x.toLowerCase()).join('|')}) +(\\\\S+)\\\\s*$").Groups[1].Value)`

  it("should take the token of POLICY.jwt.schemes only, as presentedToken does (the expression's regex, run here)", () => {
    const pattern = /"(\^\(\?i:[^"]+)"/.exec(jwt.attrs['token-value']!)![1]!.replace(/\\\\/g, '\\').replace('(?i:', '(?:')
    const re = new RegExp(pattern, 'i')
    for (const h of ['Bearer abc', 'bearer abc', 'DPoP abc', 'dpop  abc ', 'Basic abc', 'Bearer', 'DPoP a b', '', 'xBearer abc'])
      assert.equal(re.exec(h)?.[1] ?? '', presentedToken(h), h)
  })

  it('should use the attributes in POLICY.jwt', () => {
    assert.deepEqual(jwt.attrs, {
      'token-value': TOKEN_VALUE,
      'failed-validation-httpcode': String(POLICY.jwt.failedValidationStatus),
      'failed-validation-error-message': 'Unauthorized',
      'require-expiration-time': String(POLICY.jwt.requireExpirationTime),
      'require-signed-tokens': String(POLICY.jwt.requireSignedTokens),
      'clock-skew': String(POLICY.jwt.clockSkewSeconds),
      'output-token-variable-name': POLICY.jwt.outputTokenVariable,
    })
  })

  it('should take keys and issuer from the discovery document, audience and issuer from named values', () => {
    // Child order APIM requires: openid-config, (issuer-signing-keys, decryption-keys), audiences, issuers.
    assert.deepEqual(
      elements(jwt).map((e) => e.name),
      ['openid-config', 'audiences', 'issuers'],
    )
    assert.equal(elements(jwt)[0]!.attrs.url, named(NAMED_VALUES.openidConfigUrl))
    assert.deepEqual(
      elements(elements(jwt)[1]!).map((e) => [e.name, textOf(e)]),
      [['audience', named(NAMED_VALUES.audience)], ['audience', named(NAMED_VALUES.resource)]],
    )
    assert.deepEqual(
      elements(elements(jwt)[2]!).map((e) => [e.name, textOf(e)]),
      [['issuer', named(NAMED_VALUES.issuer)]],
    )
  })

  it('should say why the JOSE typ header is not checked here (the authorizer checks at+jwt)', () => {
    const comments = section(policy, 'inbound').children.filter((c) => c.kind === 'comment').map((c) => c.text).join(' ')
    assert.match(comments, /validate-jwt cannot check the JOSE header typ/)
    assert.match(comments, /at\+jwt/)
  })

  it('should answer a validate-jwt failure with 401 from on-error, described per POLICY.jwtErrors', () => {
    const onError = section(policy, 'on-error')
    const when = one(onError, (e) => e.name === 'when', 'on-error when')
    assert.equal(when.attrs.condition, '@(context.LastError.Source == "validate-jwt")')
    const sw = variable(onError, 'jwt-error')
    const cases = Object.fromEntries([...sw.matchAll(/case "([^"]+)": return "([^"]*)";/g)].map((m) => [m[1], m[2]]))
    assert.deepEqual(cases, POLICY.jwtErrors)
    assert.equal(/default: return "([^"]*)";/.exec(sw)?.[1], POLICY.jwtErrorDefault)
    const challenge = textOf(header(when, 'WWW-Authenticate')[0]!).trim()
    // RFC 6750 §3.1: no error code without a token; else invalid_token with the description.
    assert.ok(challenge.includes(`context.LastError.Reason == "TokenNotPresent" ? ${csharp(POLICY.jwt.scheme)}`))
    assert.ok(challenge.includes(csharp(`${POLICY.jwt.scheme} error="${POLICY.failures.invalidToken.error}", error_description="`).slice(0, -1)))
    assert.equal(jwtErrorDescription('TokenExpired'), 'token expired')
    assert.equal(jwtErrorDescription('SomethingElse'), POLICY.jwtErrorDefault)
  })
})

describe('inbound step 3: the operation path and the decision cache key', () => {
  it('should send the path the client called minus the API URL suffix', () => {
    const expr = variable(policy, POLICY.path.variable)
    assert.ok(expr.includes(`var path = ${POLICY.path.source};`))
    assert.ok(expr.includes(`(${POLICY.path.suffix} ?? "").Trim('/')`))
    assert.ok(expr.includes('StringComparison.OrdinalIgnoreCase'))
    assert.ok(!/context\.Request\.Url\b/.test(expr), 'not the backend URL')
  })

  it('should derive the operation path like the expression does', () => {
    const cases: [string, string, string][] = [
      ['/sample/orders/42', 'sample', '/orders/42'],
      ['/Sample/orders', 'sample', '/orders'],
      ['/sample', 'sample', '/'],
      ['/sample/', '/sample/', '/'],
      ['/samplex/orders', 'sample', '/samplex/orders'],
      ['/orders', '', '/orders'],
      ['/sample/a%2Fb', 'sample', '/a%2Fb'],
    ]
    for (const [path, suffix, want] of cases) assert.equal(operationPath(path, suffix), want, `${path} - ${suffix}`)
  })

  it('should hash token, method, API id and path with SHA-256 as POLICY.cache says', async () => {
    const expr = variable(policy, POLICY.cache.keyVariable)
    const csharpOf: Record<(typeof POLICY.cache.keyFields)[number], string> = {
      scheme: 'scheme',
      token: 'token',
      method: 'context.Request.Method',
      apiId: 'context.Api.Id',
      path: `(string)context.Variables[${csharp(POLICY.path.variable)}]`,
    }
    const material = POLICY.cache.keyFields.map((f) => csharpOf[f]).join(` + ${csharp(POLICY.cache.keySeparator)} + `)
    assert.ok(expr.includes(`var material = ${material};`), expr)
    assert.ok(expr.includes('var token = header.Substring(header.IndexOf(\' \') + 1).Trim();'))
    assert.ok(expr.includes("var scheme = header.Substring(0, Math.Max(0, header.IndexOf(' '))).ToLowerInvariant();"))
    assert.ok(expr.includes(`GetValueOrDefault(${csharp(POLICY.jwt.headerName)}, "")`))
    assert.ok(expr.includes('System.Security.Cryptography.SHA256.Create().ComputeHash(Encoding.UTF8.GetBytes(material))'))
    assert.ok(expr.includes(`return ${csharp(POLICY.cache.keyPrefix)} + Convert.ToBase64String(digest);`))

    const input = { scheme: 'dpop', token: 'eyJ.a.b', method: 'GET', apiId: 'sample', path: '/orders/42' }
    const expected =
      POLICY.cache.keyPrefix +
      createHash('sha256').update('dpop\neyJ.a.b\nGET\nsample\n/orders/42', 'utf8').digest('base64')
    assert.equal(await decisionCacheKey(input), expected)
    assert.notEqual(await decisionCacheKey({ ...input, scheme: 'bearer' }), expected, 'the same token under another scheme is another decision')
    assert.equal(tokenOf('Bearer  eyJ.a.b '), 'eyJ.a.b')
    assert.equal(schemeOf('DPoP eyJ.a.b'), 'dpop')
  })

  it('should look the decision up under that key, and call the authorizer only on a miss', () => {
    const inbound = section(policy, 'inbound')
    const lookup = one(inbound, (e) => e.name === 'cache-lookup-value', 'cache-lookup-value')
    assert.equal(lookup.attrs.key, `@((string)context.Variables[${csharp(POLICY.cache.keyVariable)}])`)
    assert.equal(lookup.attrs['variable-name'], POLICY.cache.decisionVariable)
    const miss = one(inbound, (e) => e.name === 'when' && findAll(e, (x) => x.name === 'send-request').length > 0, 'miss branch')
    assert.equal(miss.attrs.condition, `@(!context.Variables.ContainsKey(${csharp(POLICY.cache.decisionVariable)}))`)
  })

  it('should store a fresh decision for its ttl only when the ttl is above 0', () => {
    const inbound = section(policy, 'inbound')
    const store = one(inbound, (e) => e.name === 'cache-store-value', 'cache-store-value')
    assert.equal(store.attrs.key, `@((string)context.Variables[${csharp(POLICY.cache.keyVariable)}])`)
    assert.equal(store.attrs.value, `@((string)context.Variables[${csharp(POLICY.cache.decisionVariable)}])`)
    assert.equal(store.attrs.duration, '@((int)context.Variables["authz-store-ttl"])')
    const guard = one(inbound, (e) => e.name === 'when' && elements(e).includes(store), 'store guard')
    assert.equal(guard.attrs.condition, '@((int)context.Variables["authz-store-ttl"] > 0)')
    const ttl = variable(policy, 'authz-store-ttl')
    assert.ok(ttl.includes('if (!(bool)context.Variables["authz-fresh"])'), 'only fresh decisions')
    assert.ok(ttl.includes(`[${csharp(POLICY.cache.ttlField)}]`))
    assert.ok(ttl.includes(`return v >= 1 ? (int)Math.Min(v, ${POLICY.cache.maxTtlSeconds}) : 0;`))
  })
})

describe('inbound step 4: send-request to the authorizer', () => {
  const send = one(section(policy, 'inbound'), (e) => e.name === 'send-request', 'send-request')

  it('should use the mode, timeout, ignore-error and variable in POLICY.authorizer', () => {
    assert.deepEqual(send.attrs, {
      mode: POLICY.authorizer.mode,
      'response-variable-name': POLICY.authorizer.responseVariable,
      timeout: String(POLICY.authorizer.timeoutSeconds),
      'ignore-error': String(POLICY.authorizer.ignoreError),
    })
    const byName = Object.fromEntries(elements(send).map((e) => [e.name, e]))
    assert.equal(textOf(byName['set-url']!), named(NAMED_VALUES.authzUrl))
    assert.equal(textOf(byName['set-method']!), POLICY.authorizer.method)
  })

  it('should send x-functions-key, the caller Authorization and Content-Type', () => {
    const headers = Object.fromEntries(
      findAll(send, (e) => e.name === 'set-header').map((h) => [h.attrs.name, [h.attrs['exists-action'], textOf(h).trim()]]),
    )
    assert.deepEqual(headers, {
      [POLICY.authorizer.keyHeader]: ['override', named(NAMED_VALUES.authzKey)],
      [POLICY.authorizer.forwardHeader]: ['override', `@(context.Request.Headers.GetValueOrDefault(${csharp(POLICY.authorizer.forwardHeader)}, ""))`],
      'Content-Type': ['override', POLICY.authorizer.contentType],
    })
  })

  it('should send the body fields of POLICY.authorizer.fields, in order, from the documented sources', () => {
    const body = textOf(one(send, (e) => e.name === 'set-body', 'set-body')).trim()
    const props = [...body.matchAll(/new JProperty\("([^"]+)", ([^\n]+?)\)(?=,\s*new JProperty|\)\.ToString)/g)].map((m) => [m[1], m[2]])
    const u = 'context.Request.OriginalUrl'
    assert.deepEqual(props, [
      ['method', 'context.Request.Method'],
      ['path', `(string)context.Variables[${csharp(POLICY.path.variable)}]`],
      ['apiId', 'context.Api.Id'],
      ['operationId', 'context.Operation.Id'],
      ['dpop', `context.Request.Headers.GetValueOrDefault(${csharp(POLICY.authorizer.dpopHeader)}, "")`],
      // The gateway's public URL the client called (not context.Request.Url, the backend's): calledUrl.
      ['url', `${u}.Scheme + "://" + ${u}.Host + ":" + ${u}.Port + ${u}.Path`],
    ])
    assert.deepEqual(
      props.map((p) => p[0]),
      [...POLICY.authorizer.fields],
    )
  })

  it('should fail closed: no answer, not 200 or not JSON leave no decision', () => {
    const expr = variable(policy, POLICY.cache.decisionVariable)
    assert.ok(expr.includes(`context.Variables[${csharp(POLICY.authorizer.responseVariable)}] == null`))
    assert.ok(expr.includes(`if (response.StatusCode != ${POLICY.authorizer.okStatus})`))
    assert.ok(expr.includes('response.Body.As<JObject>(preserveContent: true)'))
    assert.ok(expr.includes('catch (Exception)'))
  })
})

describe('inbound step 5: acting on the decision', () => {
  const inbound = section(policy, 'inbound')
  const status = variable(policy, 'authz-status')

  it('should accept only status 200 with allow true, 401 or 403; everything else is 503', () => {
    assert.ok(status.includes('status.Type != JTokenType.Integer'))
    assert.ok(status.includes('return (bool)allow ? 200 : 503;'))
    assert.ok(status.includes('return (s == 401 || s == 403) ? s : 503;'))
    const table: [string, number][] = [
      ['', 503],
      ['not json', 503],
      ['[]', 503],
      ['{"status":"200","allow":true}', 503],
      ['{"status":200}', 503],
      ['{"status":200,"allow":"true"}', 503],
      ['{"status":200,"allow":false}', 503],
      ['{"status":500,"allow":false}', 503],
      ['{"status":200,"allow":true,"roles":[],"ttl":5}', 200],
      ['{"status":401,"allow":false,"reason":"session revoked"}', 401],
      ['{"status":403,"allow":false}', 403],
    ]
    for (const [text, want] of table) assert.equal(readDecision(text).status, want, text)
  })

  it('should floor ttl, cap it and ignore anything that is not a number', () => {
    const ttl = (t: unknown) => {
      const v = readDecision(JSON.stringify({ status: 403, allow: false, ttl: t }))
      return v.status === 503 ? -1 : v.ttl
    }
    assert.deepEqual(
      [ttl(30), ttl(29.9), ttl(0.5), ttl(0), ttl(-5), ttl('30'), ttl(null), ttl(1e9)],
      [30, 29, 0, 0, 0, 0, 0, POLICY.cache.maxTtlSeconds],
    )
  })

  it('should answer each failure as POLICY.failures describes (status, challenge, problem body)', () => {
    const failures = [POLICY.failures.authzUnauthorized, POLICY.failures.authzForbidden, POLICY.failures.authzUnavailable]
    const all = [...failures, POLICY.failures.invalidToken]
    for (const f of all) {
      const rr = one(policy, (e) => e.name === 'return-response' && e.attrs.id === f.id, `return-response ${f.id}`)
      const setStatus = elements(rr).find((e) => e.name === 'set-status')!
      assert.equal(setStatus.attrs.code, String(f.status), f.id)
      assert.equal(setStatus.attrs.reason, f.title, f.id)
      assert.equal(textOf(header(rr, 'Content-Type')[0]!).trim(), POLICY.problemContentType, f.id)
      const body = textOf(elements(rr).find((e) => e.name === 'set-body')!)
      assert.ok(body.includes(`new JProperty("type", ${csharp(POLICY.problemTypeBase + f.code)})`), f.id)
      assert.ok(body.includes(`new JProperty("title", ${csharp(f.title)})`), f.id)
      assert.ok(body.includes(`new JProperty("status", ${f.status})`), f.id)
      assert.ok(body.includes(`new JProperty("code", ${csharp(f.code)})`), f.id)
      const challenge = header(rr, 'WWW-Authenticate')
      if (f === POLICY.failures.authzUnauthorized)
        assert.ok(textOf(challenge[0]!).includes(`var challenge = (string)context.Variables[${csharp(POLICY.authorizer.challengeVariable)}];`), f.id)
      else if (f.error) {
        const prefix = csharp(`${POLICY.jwt.scheme} error="${f.error}", error_description="`).slice(0, -1)
        assert.ok(textOf(challenge[0]!).includes(prefix), `${f.id} challenge ${prefix}`)
      } else assert.equal(challenge.length, 0, f.id)
    }
    const unavailable = one(policy, (e) => e.name === 'return-response' && e.attrs.id === POLICY.failures.authzUnavailable.id, '503')
    assert.ok(textOf(unavailable).includes(`new JProperty("detail", ${csharp(POLICY.failures.authzUnavailable.detail)})`))
    // The conditions that lead to them.
    const whens = findAll(inbound, (e) => e.name === 'when').map((e) => e.attrs.condition)
    for (const s of [503, 401, 403]) assert.ok(whens.includes(`@((int)context.Variables["authz-status"] == ${s})`), `when status ${s}`)
  })

  it('CONTRACT v2 Step-up: a 401 sends the decision\'s wwwAuthenticate, printable, else invalid_token with the reason', () => {
    const expr = variable(policy, POLICY.authorizer.challengeVariable)
    assert.ok(expr.includes(`[${csharp(POLICY.authorizer.challengeField)}]`), expr)
    assert.ok(expr.includes('w.Type != JTokenType.String'))
    assert.ok(expr.includes(`challenge.Length == 0 || challenge.Length > ${POLICY.authorizer.challengeMaxLength}`))
    assert.ok(expr.includes(`return Regex.Replace(challenge, ${csharp('[^ -~]')}, "'");`))
    const fallback = csharp(`${POLICY.jwt.scheme} error="${POLICY.failures.authzUnauthorized.error}", error_description="`)
    assert.ok(expr.includes(`return ${fallback} + (string)context.Variables["authz-reason"] + "\\"";`), expr)
    // The challenge is computed after the reason it falls back on.
    const inbound = elements(section(policy, 'inbound')).filter((e) => e.name === 'set-variable').map((e) => e.attrs.name)
    assert.ok(inbound.indexOf('authz-reason') < inbound.indexOf(POLICY.authorizer.challengeVariable))
    // readDecision does the same.
    const step = 'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=300'
    const v401 = (extra: Record<string, unknown>) => readDecision(JSON.stringify({ status: 401, allow: false, reason: 'why "not"', ttl: 0, ...extra }))
    assert.deepEqual(v401({ wwwAuthenticate: step }), { status: 401, reason: "why 'not'", ttl: 0, wwwAuthenticate: step })
    assert.equal((v401({ wwwAuthenticate: 'Bearer\r\nX: y' }) as { wwwAuthenticate: string }).wwwAuthenticate, "Bearer''X: y")
    for (const w of [undefined, '', 7, 'x'.repeat(POLICY.authorizer.challengeMaxLength + 1)])
      assert.equal((v401({ wwwAuthenticate: w }) as { wwwAuthenticate: string }).wwwAuthenticate, `Bearer error="invalid_token", error_description="why 'not'"`)
  })

  it('should make the reason safe for a quoted-string the same way', () => {
    assert.ok(variable(policy, 'authz-reason').includes(`Regex.Replace(reason, ${csharp('[^ -~]|["\\\\]')}, "'")`))
    assert.equal(sanitizeParam('no "role"\\ok\nnext é'), "no 'role''ok'next '")
    assert.equal(
      wwwAuthenticate(POLICY.failures.authzForbidden, 'no role permits "GET /x"'),
      `Bearer error="insufficient_scope", error_description="no role permits 'GET /x'"`,
    )
    assert.equal(wwwAuthenticate(POLICY.failures.missingToken, 'access token missing'), 'Bearer')
    assert.equal(wwwAuthenticate(POLICY.failures.authzUnavailable, 'x'), undefined)
  })

  it('should set X-User-Id, X-User-Roles and (for an agent) X-Actor-Id for the backend and keep Authorization', () => {
    const ids = header(inbound, POLICY.backend.userIdHeader).filter((h) => h.attrs['exists-action'] === 'override')
    assert.equal(ids.length, 1)
    assert.equal(textOf(ids[0]!).trim(), '@((string)context.Variables["authz-sub"])')
    const roles = header(inbound, POLICY.backend.rolesHeader).filter((h) => h.attrs['exists-action'] === 'override')
    assert.equal(roles.length, 1)
    assert.equal(textOf(roles[0]!).trim(), '@((string)context.Variables["authz-roles"])')
    assert.ok(variable(policy, 'authz-roles').includes(`string.Join(${csharp(POLICY.backend.rolesSeparator)}, `))
    assert.ok(variable(policy, 'authz-sub').includes('["sub"]'))
    // CONTRACT v2 agents: the decision's actor, only when it has one (the when-condition below).
    const actors = header(inbound, POLICY.backend.actorHeader).filter((h) => h.attrs['exists-action'] === 'override')
    assert.equal(actors.length, 1)
    assert.equal(textOf(actors[0]!).trim(), '@((string)context.Variables["authz-actor"])')
    assert.ok(variable(policy, 'authz-actor').includes('["actor"]'))
    // forwardAuthorization: nothing deletes the caller's Authorization on its way to the backend.
    assert.equal(POLICY.backend.forwardAuthorization, true)
    assert.equal(
      findAll(policy, (e) => e.name === 'set-header' && e.attrs.name === 'Authorization' && e.attrs['exists-action'] === 'delete').length,
      0,
    )
  })
})

describe('RFC 9728: protected resource metadata and resource_metadata in every 401', () => {
  /** Every WWW-Authenticate value of a 401 return-response, inbound and on-error. */
  const challenges401 = (doc: XmlElement) =>
    findAll(doc, (e) => e.name === 'return-response' && elements(e).some((c) => c.name === 'set-status' && c.attrs.code === '401')).map((rr) => [rr.attrs.id, textOf(header(rr, 'WWW-Authenticate')[0]!)] as const)

  it('§5.1: the variable is set once, from the named value, before validate-jwt; every 401 appends it as an auth-param', () => {
    for (const doc of [policy, mi]) {
      const inbound = section(doc, 'inbound')
      assert.equal(variable(doc, POLICY.resourceMetadata.variable), `${POLICY.resourceMetadata.param}="${named(NAMED_VALUES.resourceMetadataUrl)}"`)
      const names = elements(inbound).map((e) => e.attrs.name ?? e.name)
      assert.ok(names.indexOf(POLICY.resourceMetadata.variable) < names.indexOf('validate-jwt'), 'set before validate-jwt can fail')
      const all = challenges401(doc)
      assert.deepEqual(all.map(([id]) => id).sort(), [POLICY.failures.authzUnauthorized.id, POLICY.failures.invalidToken.id].sort())
      for (const [id, value] of all) {
        // GetValueOrDefault, never a cast of context.Variables[…]: on-error runs too when a
        // product or global policy failed before inbound set the variable (a cast would throw → 500).
        assert.ok(value.includes(`var metadata = context.Variables.GetValueOrDefault<string>(${csharp(POLICY.resourceMetadata.variable)}, "");`), id)
        assert.ok(value.includes(`return metadata.Length == 0 ? challenge : challenge + (challenge.Contains(" ") ? ", " : " ") + metadata;`), id)
        assert.ok(!value.includes(`context.Variables[${csharp(POLICY.resourceMetadata.variable)}]`), `${id}: no direct read`)
      }
    }
    // No policy reads the variable any other way.
    for (const src of [policySrc, miSrc]) assert.ok(!src.includes(`(string)context.Variables["${POLICY.resourceMetadata.variable}"]`))
    // The TypeScript twin (the dev gateway's one place).
    assert.equal(withResourceMetadata('Bearer', 'https://gw/.well-known/oauth-protected-resource/api'), 'Bearer resource_metadata="https://gw/.well-known/oauth-protected-resource/api"')
    assert.equal(withResourceMetadata('Bearer error="invalid_token"', 'https://gw/m'), 'Bearer error="invalid_token", resource_metadata="https://gw/m"')
    // Unset (APIM: failed before the variable was set): the challenge as is, both alike.
    assert.equal(withResourceMetadata('Bearer error="invalid_token"', ''), 'Bearer error="invalid_token"')
  })

  it('§3.1: the metadata URL inserts the well-known path before the resource path', () => {
    assert.equal(resourceMetadataUrl('https://gw.example/sample'), 'https://gw.example/.well-known/oauth-protected-resource/sample')
    assert.equal(resourceMetadataUrl('https://gw.example/a/b/'), 'https://gw.example/.well-known/oauth-protected-resource/a/b')
    assert.equal(resourceMetadataUrl('https://gw.example'), 'https://gw.example/.well-known/oauth-protected-resource')
  })

  it('§2: the fragment answers GET with resource, authorization_servers, bearer_methods_supported, scopes_supported from named values', () => {
    const fragment = parseXml(fragmentSrc)
    assert.equal(fragment.name, 'fragment')
    const when = one(fragment, (e) => e.name === 'when', 'when')
    assert.equal(when.attrs.condition, '@(context.Request.Method == "GET")')
    const rr = one(when, (e) => e.name === 'return-response', 'return-response')
    assert.equal(textOf(header(rr, 'Content-Type')[0]!).trim(), POLICY.resourceMetadata.contentType)
    assert.equal(textOf(header(rr, 'Cache-Control')[0]!).trim(), `max-age=${POLICY.resourceMetadata.maxAgeSeconds}`)
    const body = textOf(one(rr, (e) => e.name === 'set-body', 'set-body'))
    const fields = [...body.matchAll(/new JProperty\("([^"]+)"/g)].map((m) => m[1])
    assert.deepEqual(fields, Object.keys(protectedResourceMetadata({ resource: 'r', issuer: 'i', scopes: [] })))
    assert.ok(body.includes(`new JProperty("resource", "${named(NAMED_VALUES.resource)}")`))
    assert.ok(body.includes(`new JProperty("authorization_servers", new JArray("${named(NAMED_VALUES.issuer)}"))`))
    assert.ok(body.includes(`new JProperty("bearer_methods_supported", new JArray(${POLICY.resourceMetadata.bearerMethods.map(csharp).join(', ')}))`))
    assert.ok(body.includes(`"${named(NAMED_VALUES.resourceScopes)}".Split(`))
    assert.ok(body.includes(`new JProperty("dpop_signing_alg_values_supported", new JArray(${POLICY.resourceMetadata.dpopAlgs.map(csharp).join(', ')}))`))
  })

  it('RFC 9728 dpop_signing_alg_values_supported lists exactly the proof algorithms the authorizer accepts (DPOP_ALGS)', () => {
    assert.deepEqual([...POLICY.resourceMetadata.dpopAlgs], [...DPOP_ALGS])
  })
})

describe('apim/named-values.json', () => {
  it('should describe every named value the policies use, and only those', () => {
    const docNames = namedValuesDoc.namedValues.map((n) => n.name)
    assert.deepEqual([...docNames].sort(), Object.values(NAMED_VALUES).sort())
    for (const [file, src] of [
      ['policy.xml', policySrc],
      ['policy-managed-identity.xml', miSrc],
      ['fragment-protected-resource.xml', fragmentSrc],
    ] as const) {
      const expected = namedValuesDoc.namedValues.filter((n) => n.usedBy.includes(file)).map((n) => n.name)
      assert.deepEqual([...usedNamedValues(src)].sort(), expected.sort(), file)
    }
    for (const n of namedValuesDoc.namedValues) {
      assert.match(n.name, /^[A-Za-z0-9._-]+$/)
      assert.ok(n.description && n.example && n.local, n.name)
      assert.equal(n.secret, n.name === NAMED_VALUES.authzKey, `${n.name} secret flag`)
    }
  })

  it('should be the object the gateway uses', () => {
    assert.equal(GATEWAY_POLICY, POLICY)
  })
})

describe('apim/policy-managed-identity.xml', () => {
  it('should equal apim/policy.xml except for the call to the authorizer', () => {
    const strip = (doc: XmlElement) => canonical(doc).replace(/<send-request[\s\S]*?<\/send-request>/, '<send-request/>')
    assert.equal(strip(mi), strip(policy))
  })

  it('should authenticate with the managed identity and carry the caller token in the body', () => {
    const send = one(mi, (e) => e.name === 'send-request', 'send-request')
    const auth = one(send, (e) => e.name === 'authentication-managed-identity', 'authentication-managed-identity')
    assert.equal(auth.attrs.resource, named(NAMED_VALUES.authzResource))
    assert.equal(auth.attrs['ignore-error'], 'true')
    assert.deepEqual(
      findAll(send, (e) => e.name === 'set-header').map((h) => h.attrs.name),
      [POLICY.authorizer.keyHeader, 'Content-Type'],
    )
    const body = textOf(one(send, (e) => e.name === 'set-body', 'set-body'))
    const fields = [...body.matchAll(/new JProperty\("([^"]+)"/g)].map((m) => m[1])
    assert.deepEqual(fields, [...POLICY.authorizer.fields, 'token', 'scheme'])
    assert.ok(body.includes(`new JProperty("dpop", context.Request.Headers.GetValueOrDefault("DPoP", ""))`))
    assert.ok(body.includes('new JProperty("token", context.Request.Headers.GetValueOrDefault("Authorization", "").Trim().Split(\' \').Last())'))
    // RFC 9449 §7.1: the scheme travels too, so a bound token sent as Bearer is refused as behind the other policy.
    assert.ok(body.includes('new JProperty("scheme", context.Request.Headers.GetValueOrDefault("Authorization", "").Trim().Split(\' \').First())'))
  })
})

describe('DPoP nonces on the 401 (RFC 9449 §9)', () => {
  it("should send DPoP-Nonce from the decision's dpopNonce (unreserved characters only), and no header without one", () => {
    const expr = variable(policy, 'authz-nonce')
    assert.ok(expr.includes(`[${csharp(POLICY.authorizer.nonceField)}]`), expr)
    assert.ok(expr.includes(`Regex.IsMatch(nonce, ${csharp('^[A-Za-z0-9._~-]{1,128}$')})`), expr)
    const rr = one(policy, (e) => e.name === 'return-response' && e.attrs.id === POLICY.failures.authzUnauthorized.id, 'the 401')
    const h = one(rr, (e) => e.name === 'set-header' && e.attrs.name === POLICY.authorizer.nonceHeader, 'DPoP-Nonce')
    assert.equal(h.attrs['exists-action'], '@(((string)context.Variables["authz-nonce"]).Length > 0 ? "override" : "delete")')
    // readDecision (the dev gateway's reading) takes the same nonces.
    const d = (dpopNonce: unknown) => readDecision(JSON.stringify({ allow: false, status: 401, reason: 'r', wwwAuthenticate: 'DPoP error="use_dpop_nonce"', dpopNonce, ttl: 0 }))
    assert.equal((d('abc.DEF_-~') as { dpopNonce?: string }).dpopNonce, 'abc.DEF_-~')
    for (const bad of ['a b', 'x\r\nSet-Cookie: y', '', 7, 'x'.repeat(129)]) assert.equal((d(bad) as { dpopNonce?: string }).dpopNonce, undefined)
  })
})

describe('docs/apim.md', () => {
  const doc = read('docs/apim.md')

  it('should list every named value with its secret flag and local value', () => {
    for (const n of namedValuesDoc.namedValues) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${n.name}\` |`))
      assert.ok(row, `row for ${n.name}`)
      assert.ok(row!.includes(n.secret ? '**yes**' : '| no |'), `${n.name} secret flag`)
      if (n.local.startsWith('http')) assert.ok(row!.includes(`\`${n.local}\``), `${n.name} local value`)
    }
  })

  it('should list the sample API operations the dev gateway publishes', () => {
    assert.ok(doc.includes(`| API id (\`context.Api.Id\`, the \`apiId\` permissions can name) | \`${SAMPLE_API.id}\` |`))
    for (const op of SAMPLE_API.operations!)
      assert.ok(doc.includes(`| \`${op.id}\` | ${op.method} | \`${op.urlTemplate}\``), `operation ${op.id}`)
  })

  it('should give a portal (raw) decoding that yields the same expressions', () => {
    const cmd = /sed -e 's\/&quot;\/"\/g' -e 's\/&lt;\/<\/g' -e 's\/&gt;\/>\/g' -e "s\/&apos;\/'\/g" -e 's\/&amp;\/\\&\/g' apim\/policy\.xml/
    assert.match(doc, cmd)
    const raw = policySrc
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&')
    const squash = (x: string) => x.replace(/\s+/g, ' ')
    const rawSquashed = squash(raw)
    for (const e of findAll(policy, () => true))
      for (const v of Object.values(e.attrs)) if (v.startsWith('@')) assert.ok(rawSquashed.includes(squash(v)), v.slice(0, 60))
  })
})

describe('apim/policy-rate-limit.xml: a policy fragment for fronting the service itself', () => {
  const src = read('apim/policy-rate-limit.xml')
  const doc = parseXml(src)
  const limited = [
    '/api/webauthn/registration/options',
    '/api/webauthn/registration/verify',
    '/api/webauthn/authentication/options',
    '/api/webauthn/authentication/verify',
    '/api/oauth2/token',
    '/api/oauth2/bc-authorize',
    '/api/oauth2/authorize',
    '/api/oauth2/authorize/options',
    '/api/oauth2/authorize/complete',
  ]
  const open = ['/api/authz/check', '/api/health', '/api/.well-known/jwks.json', '/api/.well-known/openid-configuration', '/api/me', '/api/oauth2/introspect', '/api/oauth2/revoke']

  it('is a <fragment> with one rate-limit-by-key: 120 calls / 60 s per client IP, Retry-After', () => {
    assert.equal(doc.name, 'fragment')
    const rl = one(doc, (e) => e.name === 'rate-limit-by-key', 'rate-limit-by-key')
    assert.equal(rl.attrs.calls, '120', 'the contract default RATE_LIMIT')
    assert.equal(rl.attrs['renewal-period'], '60')
    assert.match(rl.attrs['counter-key']!, /context\.Request\.IpAddress/)
    assert.equal(rl.attrs['retry-after-header-name'], 'Retry-After')
  })

  it('its condition, read as the C# it is, limits exactly the contract\'s unauthenticated routes', () => {
    const when = one(doc, (e) => e.name === 'when', 'when')
    const cond = when.attrs.condition!
    // The expression is a chain of EndsWith/Contains on the lower-cased path: evaluate it here.
    const tests = [...cond.matchAll(/p\.(EndsWith|Contains)\("([^"]+)"\)/g)].map((m) => [m[1]!, m[2]!] as const)
    assert.ok(tests.length >= 7)
    assert.equal(cond.replace(/p\.(EndsWith|Contains)\("[^"]+"\)/g, 'X').replace(/\s+/g, ' ').trim(), '@{ var p = context.Request.Url.Path.ToLowerInvariant(); return X || X || X || X || X || X || X; }')
    const matches = (path: string) => tests.some(([fn, s]) => (fn === 'EndsWith' ? path.toLowerCase().endsWith(s) : path.toLowerCase().includes(s)))
    for (const p of limited) assert.equal(matches(p), true, p)
    for (const p of open) assert.equal(matches(p), false, p)
  })
})
