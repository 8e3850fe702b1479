/**
 * Renders the APIM policy pack: the two policies, apim/policy.xml and
 * apim/policy-managed-identity.xml, from one template, and the protected resource metadata fragment
 * (apim/fragment-protected-resource.xml). The two policies they differ only in their opening comment and in how the gateway authenticates its
 * call to the authorizer (function key plus the caller's Authorization header, or its managed
 * identity with the caller's token in the body).
 *
 * The XML is committed (APIM imports it as is). `npm run build` (apim/build.mjs) rewrites it;
 * test/gateway/render.test.ts renders it again and fails when a committed file is stale. The
 * values in it are checked against apim/policy.ts by test/gateway/policy.test.ts.
 *
 * The template is `String.raw`: the C# expressions' backslashes stand as APIM reads them.
 */

/** What one policy file says where the two differ. */
interface Variant {
  /** The opening comment: what the file is and how it is used. */
  header: string
  /** The comment above `send-request`. */
  sendComment: string
  /** Headers sent to the authorizer after the function key (none with managed identity). */
  forwardHeaders: string
  /** The end of the request body, and what follows it inside `send-request`. */
  bodyEnd: string
}

const FUNCTION_KEY: Variant = {
  header: String.raw`<!--
  passkey-edge: API-scope policy for Azure API Management (inbound / backend / outbound / on-error).
  Rendered from apim/render.ts by "npm run build" (test/gateway/render.test.ts fails when this
  file is stale): change the template there, not this file.

  What it does, in order (docs/apim.md walks through it; apim/policy.ts holds the same values as
  data, and test/gateway/policy.test.ts checks this file against them):
    1. deletes the client's X-User-Id, X-User-Roles and X-Actor-Id headers (the backend trusts only ours);
    2. validate-jwt: Bearer or DPoP token in Authorization, RS256/PS256/RS512 signature against
       the keys of the discovery document, iss, aud, exp/nbf with 30 s clock skew;
    3. decision cache lookup, key = SHA-256(token, method, API id, operation path);
    4. on a miss, POST {{passkey-authz-url}} (timeout 5 s, errors ignored, then fail closed: no
       answer or not 200 means 503) with the client's DPoP proof and the URL it called, and
       caches the decision for its ttl (0 for DPoP-bound tokens: a proof per call);
    5. 401 (with the decision's WWW-Authenticate, e.g. a step-up) / 403 as the authorizer says,
       else X-User-Id / X-User-Roles (and X-Actor-Id for an agent's delegated token) for the
       backend.

  Named values (all in apim/named-values.json): passkey-openid-config-url, passkey-issuer,
  passkey-audience, passkey-resource, passkey-resource-metadata-url, passkey-authz-url,
  passkey-authz-key (secret, preferably from Key Vault).

  Format: this file is an XML document with the C# expressions XML-encoded (&quot; &lt; &amp;),
  the form APIM calls "xml". Import it as is with the management API / Bicep (format "xml"). The
  portal's code editor and the "rawxml" format take the expressions unencoded: decode the
  entities first (docs/apim.md, "Paste the policy").

  Expressions written in attributes are multi-line: an XML reader folds their line breaks into
  spaces, so they contain no // comments.
-->
`,
  sendComment: String.raw`                <!-- POST /api/authz/check. ignore-error: a timeout or a refused connection leaves the
                     response variable null, which the next expression turns into 503. -->
`,
  forwardHeaders: String.raw`                    <set-header name="Authorization" exists-action="override">
                        <value>@(context.Request.Headers.GetValueOrDefault("Authorization", ""))</value>
                    </set-header>
`,
  bodyEnd: String.raw`).ToString(Newtonsoft.Json.Formatting.None))</set-body>
`,
}

const MANAGED_IDENTITY: Variant = {
  header: String.raw`<!--
  passkey-edge: API-scope policy for Azure API Management, managed-identity variant.
  Rendered from apim/render.ts by "npm run build" (test/gateway/render.test.ts fails when this
  file is stale): change the template there, not this file.

  Identical to apim/policy.xml except for the call to the authorizer: APIM authenticates to the
  Function App with its managed identity (authentication-managed-identity inside send-request),
  which overwrites the Authorization header with an Entra ID token for {{passkey-authz-resource}}.
  The caller's access token therefore travels in the body's "token" field, and its Authorization
  scheme (Bearer or DPoP) in "scheme" (CONTRACT "Authorizer": the authorizer prefers the body's
  token when present, and refuses a DPoP-bound token whose scheme is Bearer, RFC 9449 section 7.1). The function key is still sent, as the
  function keeps authLevel "function"; the Function App's authentication (Easy Auth) checks the
  Entra token in front of it.

  Named values (apim/named-values.json): passkey-openid-config-url, passkey-issuer,
  passkey-audience, passkey-resource, passkey-resource-metadata-url, passkey-authz-url,
  passkey-authz-key (secret), passkey-authz-resource.

  Format: XML-encoded expressions (format "xml"); see apim/policy.xml and docs/apim.md.
-->
`,
  sendComment: String.raw`                <!-- POST /api/authz/check with the gateway's managed identity in Authorization and the
                     caller's token in the body. ignore-error: a timeout or a refused connection
                     leaves the response variable null, hence 503; without a managed-identity token
                     the Function App refuses the call (not 200), hence 503 too. -->
`,
  forwardHeaders: '',
  bodyEnd: String.raw`,
                        new JProperty("token", context.Request.Headers.GetValueOrDefault("Authorization", "").Trim().Split(' ').Last()),
                        new JProperty("scheme", context.Request.Headers.GetValueOrDefault("Authorization", "").Trim().Split(' ').First())).ToString(Newtonsoft.Json.Formatting.None))</set-body>
                    <authentication-managed-identity resource="{{passkey-authz-resource}}" ignore-error="true" />
`,
}

/** Each rendered file (relative to the repository root) and its variant. */
export const POLICY_FILES = {
  'apim/policy.xml': FUNCTION_KEY,
  'apim/policy-managed-identity.xml': MANAGED_IDENTITY,
  'apim/fragment-protected-resource.xml': 'fragment',
} as const

export type PolicyFile = keyof typeof POLICY_FILES

/**
 * One answer the policy makes itself instead of calling the backend: an RFC 9457 problem whose
 * type is `problems/<code>`, with an RFC 6750 challenge when there is one. The four (authorizer
 * unavailable, 401 and 403 from the authorizer, validate-jwt refused) differ only in these values.
 */
interface Failure {
  /** The `return-response` id (test/gateway/policy.test.ts finds each answer by it). */
  id: string
  status: number
  /** The status's reason phrase, also the problem's title. */
  title: string
  code: string
  /** The `WWW-Authenticate` value as a C# string expression; none on a 503. */
  challenge?: string
  /** The problem's detail as a C# string expression. */
  detail: string
  /** RFC 9449 §9: also `DPoP-Nonce` from the decision's `dpopNonce`, when it has one. */
  nonce?: true
}

/**
 * DPoP (RFC 9449, CONTRACT v2 "DPoP"), each in one expression: validate-jwt's token (Bearer or
 * DPoP scheme, else ""), the proof and called URL sent to the authorizer (OriginalUrl: the
 * gateway's public URL, not the backend's; the authorizer normalises the port), and the nonce a
 * 401 carries back.
 */
const TOKEN_VALUE = String.raw`@(Regex.Match(context.Request.Headers.GetValueOrDefault(&quot;Authorization&quot;, &quot;&quot;), &quot;^(?i:bearer|dpop) +(\\S+)\\s*$&quot;).Groups[1].Value)`
const DPOP_FIELDS = String.raw`                        new JProperty("dpop", context.Request.Headers.GetValueOrDefault("DPoP", "")),
                        new JProperty("url", context.Request.OriginalUrl.Scheme + "://" + context.Request.OriginalUrl.Host + ":" + context.Request.OriginalUrl.Port + context.Request.OriginalUrl.Path)`
const NONCE_VARIABLE = String.raw`        <!-- RFC 9449 section 9: a nonce the client must put in its next proof (unreserved characters only). -->
        <set-variable name="authz-nonce" value="@{
            var n = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;dpopNonce&quot;];
            var nonce = (n == null || n.Type != JTokenType.String) ? &quot;&quot; : (string)n;
            return Regex.IsMatch(nonce, &quot;^[A-Za-z0-9._~-]{1,128}$&quot;) ? nonce : &quot;&quot;;
        }" />
`
/** Sent only with a nonce: exists-action (an expression) deletes the header otherwise. */
const DPOP_NONCE_HEADER = String.raw`                    <set-header name="DPoP-Nonce" exists-action="@(((string)context.Variables[&quot;authz-nonce&quot;]).Length > 0 ? &quot;override&quot; : &quot;delete&quot;)">
                        <value>@((string)context.Variables["authz-nonce"])</value>
                    </set-header>
`

/** The authorizer's reason and validate-jwt's, each kept in a variable the policy set before. */
const AUTHZ_REASON = '(string)context.Variables["authz-reason"]'
const JWT_ERROR = '(string)context.Variables["jwt-error"]'
/** The authorizer's WWW-Authenticate for a 401 (its decision's `wwwAuthenticate`, or invalid_token). */
const AUTHZ_CHALLENGE = '(string)context.Variables["authz-challenge"]'

/**
 * The one place a 401's challenge gets RFC 9728 §5.1 `resource_metadata`: the C# expression
 * `challenge` with the variable `passkey-resource-metadata` (set once, at the start of inbound,
 * from {{passkey-resource-metadata-url}}) appended as one more auth-param. Read with
 * GetValueOrDefault: on-error also runs when a product or global policy fails before this
 * policy's inbound set it, and a missing variable must not turn the 401 into a 500; then the
 * challenge goes without the parameter.
 */
function withResourceMetadata(challenge: string): string {
  return String.raw`{
                            var challenge = ${challenge};
                            var metadata = context.Variables.GetValueOrDefault&lt;string&gt;("passkey-resource-metadata", "");
                            return metadata.Length == 0 ? challenge : challenge + (challenge.Contains(" ") ? ", " : " ") + metadata;
                        }`
}

/** A Bearer challenge with an error code (RFC 6750 §3): `description` is a C# string expression. */
function bearerError(error: string, description: string): string {
  return String.raw`"Bearer error=\"${error}\", error_description=\"" + ${description} + "\""`
}

/** The `return-response` of one failure, indented for its place inside a `when`. */
function failureResponse(f: Failure): string {
  const challenge =
    f.challenge === undefined
      ? ''
      : String.raw`                    <set-header name="WWW-Authenticate" exists-action="override">
                        <value>@${f.status === 401 ? withResourceMetadata(f.challenge) : `(${f.challenge})`}</value>
                    </set-header>
`
  const nonce = f.nonce ? DPOP_NONCE_HEADER : ''
  return String.raw`                <return-response id="${f.id}">
                    <set-status code="${f.status}" reason="${f.title}" />
${challenge}${nonce}                    <set-header name="Content-Type" exists-action="override">
                        <value>application/problem+json</value>
                    </set-header>
                    <set-body>@(new JObject(
                        new JProperty("type", "https://passkey-edge.dev/problems/${f.code}"),
                        new JProperty("title", "${f.title}"),
                        new JProperty("status", ${f.status}),
                        new JProperty("detail", ${f.detail}),
                        new JProperty("code", "${f.code}")).ToString(Newtonsoft.Json.Formatting.None))</set-body>
                </return-response>
`
}

/** Sets `header` on the request to the backend from a string variable, unless it is empty. */
function backendHeader(header: string, variable: string): string {
  return String.raw`        <choose>
            <when condition="@(((string)context.Variables[&quot;${variable}&quot;]).Length > 0)">
                <set-header name="${header}" exists-action="override">
                    <value>@((string)context.Variables["${variable}"])</value>
                </set-header>
            </when>
        </choose>
`
}

/**
 * The text of one policy file.
 *
 * @example
 * renderPolicy('apim/policy-managed-identity.xml').includes('authentication-managed-identity') // true
 */
export function renderPolicy(file: PolicyFile): string {
  const v = POLICY_FILES[file]
  if (v === 'fragment') return renderProtectedResourceFragment()
  return v.header + String.raw`<policies>
    <inbound>
        <!-- 1. Never let a client choose the identity the backend sees. -->
        <set-header name="X-User-Id" exists-action="delete" />
        <set-header name="X-User-Roles" exists-action="delete" />
        <set-header name="X-Actor-Id" exists-action="delete" />
        <base />
        <!-- RFC 9728 section 5.1: every 401 below (and in on-error) names this API's protected
             resource metadata, served by the passkey-protected-resource-metadata fragment. -->
        <set-variable name="passkey-resource-metadata" value="resource_metadata=&quot;{{passkey-resource-metadata-url}}&quot;" />
        <!-- 2. Token validation at the edge. With openid-config APIM takes the issuer and keys from
             the discovery document, pulls it every hour and again on an unknown kid (at most
             once per 5 minutes): the service publishes a new key KEY_PUBLISH_AHEAD before it
             signs with it. iss must equal the discovery issuer exactly.
             validate-jwt cannot check the JOSE header typ (RFC 9068 "at+jwt"): the authorizer
             checks it, so an ID token or another JWT from the same issuer gets 401 there.
             token-value takes the token of "Authorization: Bearer" or "DPoP" (RFC 9449 section 7.1;
             the authorizer checks the DPoP proof); any other value is no token. -->
        <validate-jwt token-value="${TOKEN_VALUE}" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized" require-expiration-time="true" require-signed-tokens="true" clock-skew="30" output-token-variable-name="passkey-jwt">
            <openid-config url="{{passkey-openid-config-url}}" />
            <audiences>
                <!-- One audience element per accepted audience (AUDIENCES of the service). -->
                <audience>{{passkey-audience}}</audience>
                <!-- The API's own URL (RFC 8707 resource, RFC 9728): MCP clients ask for it. -->
                <audience>{{passkey-resource}}</audience>
            </audiences>
            <issuers>
                <issuer>{{passkey-issuer}}</issuer>
            </issuers>
        </validate-jwt>
        <!-- 3. The operation path the authorizer matches permissions against: the path the client
             called on the gateway minus the API URL suffix (/sample/orders/42 becomes /orders/42),
             percent-encoding as sent, no query string. context.Request.Url is not used: it is the
             backend URL, which moves with the API's web service URL and with rewrite-uri. -->
        <set-variable name="authz-path" value="@{
            var path = context.Request.OriginalUrl.Path;
            var suffix = &quot;/&quot; + (context.Api.Path ?? &quot;&quot;).Trim('/');
            if (suffix.Length > 1) {
                if (path.Equals(suffix, StringComparison.OrdinalIgnoreCase)) {
                    path = &quot;/&quot;;
                } else if (path.StartsWith(suffix + &quot;/&quot;, StringComparison.OrdinalIgnoreCase)) {
                    path = path.Substring(suffix.Length);
                }
            }
            return path.Length == 0 ? &quot;/&quot; : path;
        }" />
        <!-- 4. Decision cache. The key hashes the token with the method, the API id and the path, so
             the cache holds no token and one token's decisions stay apart per request shape.
             System.Security.Cryptography.SHA256, Encoding and Convert are allowed in expressions. -->
        <set-variable name="authz-cache-key" value="@{
            var header = context.Request.Headers.GetValueOrDefault(&quot;Authorization&quot;, &quot;&quot;);
            var token = header.Substring(header.IndexOf(' ') + 1).Trim();
            var scheme = header.Substring(0, Math.Max(0, header.IndexOf(' '))).ToLowerInvariant();
            var material = scheme + &quot;\n&quot; + token + &quot;\n&quot; + context.Request.Method + &quot;\n&quot; + context.Api.Id + &quot;\n&quot; + (string)context.Variables[&quot;authz-path&quot;];
            var digest = System.Security.Cryptography.SHA256.Create().ComputeHash(Encoding.UTF8.GetBytes(material));
            return &quot;passkey-authz:&quot; + Convert.ToBase64String(digest);
        }" />
        <set-variable name="authz-fresh" value="@(false)" />
        <cache-lookup-value key="@((string)context.Variables[&quot;authz-cache-key&quot;])" variable-name="authz-decision" caching-type="prefer-external" />
        <choose>
            <when condition="@(!context.Variables.ContainsKey(&quot;authz-decision&quot;))">
                <set-variable name="authz-fresh" value="@(true)" />
${v.sendComment}                <send-request mode="new" response-variable-name="authz-response" timeout="5" ignore-error="true">
                    <set-url>{{passkey-authz-url}}</set-url>
                    <set-method>POST</set-method>
                    <set-header name="x-functions-key" exists-action="override">
                        <value>{{passkey-authz-key}}</value>
                    </set-header>
${v.forwardHeaders}                    <set-header name="Content-Type" exists-action="override">
                        <value>application/json</value>
                    </set-header>
                    <set-body>@(new JObject(
                        new JProperty("method", context.Request.Method),
                        new JProperty("path", (string)context.Variables["authz-path"]),
                        new JProperty("apiId", context.Api.Id),
                        new JProperty("operationId", context.Operation.Id),
${DPOP_FIELDS}${v.bodyEnd}                </send-request>
                <!-- The answer as compact JSON, or "" when there is none: null, not 200, or not JSON. -->
                <set-variable name="authz-decision" value="@{
                    if (!context.Variables.ContainsKey(&quot;authz-response&quot;) || context.Variables[&quot;authz-response&quot;] == null) {
                        return &quot;&quot;;
                    }
                    var response = (IResponse)context.Variables[&quot;authz-response&quot;];
                    if (response.StatusCode != 200) {
                        return &quot;&quot;;
                    }
                    try {
                        return response.Body.As&lt;JObject&gt;(preserveContent: true).ToString(Newtonsoft.Json.Formatting.None);
                    } catch (Exception) {
                        return &quot;&quot;;
                    }
                }" />
            </when>
        </choose>
        <!-- 5. Judge the answer, fail closed: status must be 200, 401 or 403, and 200 needs allow
             true. Anything else (including no answer) is 503. -->
        <set-variable name="authz-status" value="@{
            try {
                var d = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;]);
                var status = d[&quot;status&quot;];
                if (status == null || status.Type != JTokenType.Integer) {
                    return 503;
                }
                var s = (int)status;
                if (s == 200) {
                    var allow = d[&quot;allow&quot;];
                    if (allow == null || allow.Type != JTokenType.Boolean) {
                        return 503;
                    }
                    return (bool)allow ? 200 : 503;
                }
                return (s == 401 || s == 403) ? s : 503;
            } catch (Exception) {
                return 503;
            }
        }" />
        <choose>
            <when condition="@((int)context.Variables[&quot;authz-status&quot;] == 503)">
${failureResponse({
  id: 'passkey-authz-503',
  status: 503,
  title: 'Service Unavailable',
  code: 'authorizer_unavailable',
  detail: '"the authorizer could not decide"',
})}            </when>
        </choose>
        <!-- Cache a fresh decision for its ttl (seconds, floored, at most 3600), only when above 0.
             The ttl is the worst-case delay before a role change or revocation reaches the gateway. -->
        <set-variable name="authz-store-ttl" value="@{
            if (!(bool)context.Variables[&quot;authz-fresh&quot;]) {
                return 0;
            }
            var t = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;ttl&quot;];
            if (t == null) {
                return 0;
            }
            if (t.Type != JTokenType.Integer) {
                if (t.Type != JTokenType.Float) {
                    return 0;
                }
            }
            var v = Math.Floor((double)t);
            return v >= 1 ? (int)Math.Min(v, 3600) : 0;
        }" />
        <choose>
            <when condition="@((int)context.Variables[&quot;authz-store-ttl&quot;] > 0)">
                <cache-store-value key="@((string)context.Variables[&quot;authz-cache-key&quot;])" value="@((string)context.Variables[&quot;authz-decision&quot;])" duration="@((int)context.Variables[&quot;authz-store-ttl&quot;])" caching-type="prefer-external" />
            </when>
        </choose>
        <!-- The authorizer's reason, made safe for a quoted-string. -->
        <set-variable name="authz-reason" value="@{
            var r = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;reason&quot;];
            var reason = (r == null || r.Type != JTokenType.String) ? &quot;&quot; : (string)r;
            return Regex.Replace(reason, &quot;[^ -~]|[\&quot;\\\\]&quot;, &quot;'&quot;);
        }" />
        <!-- The 401's WWW-Authenticate: the decision's own (a step-up names acr_values / max_age,
             RFC 9470), made printable ASCII; without one, invalid_token with the reason. -->
        <set-variable name="authz-challenge" value="@{
            var w = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;wwwAuthenticate&quot;];
            var challenge = (w == null || w.Type != JTokenType.String) ? &quot;&quot; : (string)w;
            if (challenge.Length == 0 || challenge.Length > 2048) {
                return &quot;Bearer error=\&quot;invalid_token\&quot;, error_description=\&quot;&quot; + (string)context.Variables[&quot;authz-reason&quot;] + &quot;\&quot;&quot;;
            }
            return Regex.Replace(challenge, &quot;[^ -~]&quot;, &quot;'&quot;);
        }" />
${NONCE_VARIABLE}        <choose>
            <when condition="@((int)context.Variables[&quot;authz-status&quot;] == 401)">
${failureResponse({
  id: 'passkey-authz-401',
  status: 401,
  title: 'Unauthorized',
  code: 'unauthorized',
  challenge: AUTHZ_CHALLENGE,
  nonce: true,
  detail: AUTHZ_REASON,
})}            </when>
            <when condition="@((int)context.Variables[&quot;authz-status&quot;] == 403)">
${failureResponse({
  id: 'passkey-authz-403',
  status: 403,
  title: 'Forbidden',
  code: 'forbidden',
  challenge: bearerError('insufficient_scope', AUTHZ_REASON),
  detail: AUTHZ_REASON,
})}            </when>
        </choose>
        <!-- Allowed: tell the backend who is calling. The caller's Authorization header is
             forwarded as APIM does by default (the backend may verify it again). -->
        <set-variable name="authz-sub" value="@{
            var s = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;sub&quot;];
            return (s == null || s.Type != JTokenType.String) ? &quot;&quot; : (string)s;
        }" />
        <set-variable name="authz-roles" value="@{
            var roles = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;roles&quot;] as JArray;
            if (roles == null) {
                return &quot;&quot;;
            }
            return string.Join(&quot;,&quot;, roles.Where(t => t.Type == JTokenType.String).Select(t => (string)t));
        }" />
        <!-- An agent acting for the user (a delegated token): its client id, else nothing. -->
        <set-variable name="authz-actor" value="@{
            var a = JObject.Parse((string)context.Variables[&quot;authz-decision&quot;])[&quot;actor&quot;];
            return (a == null || a.Type != JTokenType.String) ? &quot;&quot; : (string)a;
        }" />
${backendHeader('X-User-Id', 'authz-sub')}${backendHeader('X-User-Roles', 'authz-roles')}${backendHeader('X-Actor-Id', 'authz-actor')}    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <!-- validate-jwt failures land here (context.LastError.Source "validate-jwt"); the Reason
             names what failed. RFC 6750 section 3.1: without any token the challenge carries no
             error code; otherwise error="invalid_token" with a description of the reason. -->
        <choose>
            <when condition="@(context.LastError.Source == &quot;validate-jwt&quot;)">
                <set-variable name="jwt-error" value="@{
                    switch (context.LastError.Reason) {
                        case &quot;TokenNotPresent&quot;: return &quot;access token missing&quot;;
                        case &quot;TokenExpired&quot;: return &quot;token expired&quot;;
                        case &quot;TokenSignatureInvalid&quot;: return &quot;signature invalid&quot;;
                        case &quot;TokenSignatureKeyNotFound&quot;: return &quot;signing key not found&quot;;
                        case &quot;TokenAudienceNotAllowed&quot;: return &quot;audience not allowed&quot;;
                        case &quot;TokenIssuerNotAllowed&quot;: return &quot;issuer not allowed&quot;;
                        case &quot;JwtInvalid&quot;: return &quot;token invalid&quot;;
                        default: return &quot;token invalid&quot;;
                    }
                }" />
${failureResponse({
  id: 'passkey-invalid-token',
  status: 401,
  title: 'Unauthorized',
  code: 'unauthorized',
  challenge: `context.LastError.Reason == "TokenNotPresent" ? "Bearer" : ${bearerError('invalid_token', JWT_ERROR)}`,
  detail: JWT_ERROR,
})}            </when>
        </choose>
        <base />
    </on-error>
</policies>
`
}

/**
 * The policy fragment `passkey-protected-resource-metadata` (apim/fragment-protected-resource.xml):
 * answers GET with the API's RFC 9728 protected resource metadata, from named values. Included
 * by the operations of the small API published at /.well-known/oauth-protected-resource
 * (docs/mcp.md); the same document the dev gateway serves (apim/policy.ts
 * `protectedResourceMetadata`).
 */
function renderProtectedResourceFragment(): string {
  return String.raw`<!--
  passkey-edge: policy fragment "passkey-protected-resource-metadata" for Azure API Management.
  Rendered from apim/render.ts by "npm run build": change the template there, not this file.

  Answers GET with the protected resource metadata (RFC 9728 section 2) of the API named by
  {{passkey-resource}}: include it (include-fragment) in the inbound policy of the operations
  GET / and GET /* of an API whose URL suffix is .well-known/oauth-protected-resource, so that
  both https://<gateway>/.well-known/oauth-protected-resource and the path form of RFC 9728
  section 3.1 (https://<gateway>/.well-known/oauth-protected-resource/<api suffix>) answer.
  That API needs no subscription key and no token (docs/mcp.md).

  Named values: passkey-resource, passkey-issuer, passkey-resource-scopes (space-separated).
-->
<fragment>
    <choose>
        <when condition="@(context.Request.Method == &quot;GET&quot;)">
            <return-response>
                <set-status code="200" reason="OK" />
                <set-header name="Content-Type" exists-action="override">
                    <value>application/json</value>
                </set-header>
                <set-header name="Cache-Control" exists-action="override">
                    <value>max-age=3600</value>
                </set-header>
                <set-body>@(new JObject(
                    new JProperty("resource", "{{passkey-resource}}"),
                    new JProperty("authorization_servers", new JArray("{{passkey-issuer}}")),
                    new JProperty("bearer_methods_supported", new JArray("header")),
                    new JProperty("scopes_supported", new JArray("{{passkey-resource-scopes}}".Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))),
                    new JProperty("dpop_signing_alg_values_supported", new JArray("ES256", "PS256", "RS256", "EdDSA"))).ToString(Newtonsoft.Json.Formatting.None))</set-body>
            </return-response>
        </when>
    </choose>
</fragment>
`
}
