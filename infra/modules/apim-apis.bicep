// What API Management publishes: the named values of apim/named-values.json that apim/policy.xml
// uses, the sample API (sample-api.openapi.json) with apim/policy.xml at API scope exactly as
// committed, a global cors policy for the passkey page, and optionally the service itself behind
// the gateway with apim/policy-rate-limit.xml; the sample API's protected resource metadata (RFC 9728)
// from the fragment apim/fragment-protected-resource.xml.
//
// The policy files are XML documents whose C# expressions are XML-encoded (&quot; …), which is
// what APIM calls format "xml"; "rawxml" would take the entities literally and the expressions
// would not compile (docs/apim.md "Paste the policy").
param apimName string
param appHostName string
param issuer string
param audience string
param allowedOrigins string[]
param authzKeySecretUri string
param apimClientId string
param sampleApiBackendUrl string
param exposeServiceThroughApim bool
@description('The sample API\'s scopes for its protected resource metadata (scopes_supported), space-separated; a named value cannot be empty.')
param resourceScopes string = 'openid'
@description('The instance\'s tier (Consumption lacks rate-limit-by-key).')
param apimSku string

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

// Named values (apim/named-values.json: the names, what they hold, which are secret).
resource openidConfigUrl 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-openid-config-url'
  properties: {
    displayName: 'passkey-openid-config-url'
    value: '${issuer}/.well-known/openid-configuration'
    secret: false
  }
}

resource issuerValue 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-issuer'
  properties: {
    displayName: 'passkey-issuer'
    value: issuer
    secret: false
  }
}

resource audienceValue 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-audience'
  properties: {
    displayName: 'passkey-audience'
    value: audience
    secret: false
  }
}

// RFC 8707 / RFC 9728: the sample API's URL on this gateway is its resource identifier (an
// accepted audience; main.bicep adds it to the app's AUDIENCES for MCP clients, docs/mcp.md), and every 401 names its
// protected resource metadata URL (RFC 9728 section 3.1).
resource resourceValue 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-resource'
  properties: {
    displayName: 'passkey-resource'
    value: '${apim.properties.gatewayUrl}/sample'
    secret: false
  }
}

resource resourceMetadataUrl 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-resource-metadata-url'
  properties: {
    displayName: 'passkey-resource-metadata-url'
    value: '${apim.properties.gatewayUrl}/.well-known/oauth-protected-resource/sample'
    secret: false
  }
}

resource resourceScopesValue 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-resource-scopes'
  properties: {
    displayName: 'passkey-resource-scopes'
    value: resourceScopes
    secret: false
  }
}

resource authzUrl 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-authz-url'
  properties: {
    displayName: 'passkey-authz-url'
    value: 'https://${appHostName}/api/authz/check'
    secret: false
  }
}

// Key Vault-backed: APIM reads the secret with its own user-assigned identity (Key Vault Secrets
// User) and refreshes it periodically; the key never appears in the deployment.
resource authzKey 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'passkey-authz-key'
  properties: {
    displayName: 'passkey-authz-key'
    secret: true
    keyVault: {
      secretIdentifier: authzKeySecretUri
      identityClientId: apimClientId
    }
  }
}

// Global scope: a browser's preflight carries no token, so cors must answer before the API's
// validate-jwt (docs/apim.md "Calling the API from the passkey page").
resource globalPolicy 'Microsoft.ApiManagement/service/policies@2024-05-01' = {
  parent: apim
  name: 'policy'
  properties: {
    format: 'xml'
    value: '<policies><inbound><cors allow-credentials="false"><allowed-origins>${join(map(allowedOrigins, o => '<origin>${o}</origin>'), '')}</allowed-origins><allowed-methods><method>GET</method><method>POST</method><method>DELETE</method></allowed-methods><allowed-headers><header>Authorization</header><header>Content-Type</header></allowed-headers></cors></inbound><backend><forward-request /></backend><outbound /><on-error /></policies>'
  }
}

resource sampleApi 'Microsoft.ApiManagement/service/apis@2024-05-01' = {
  parent: apim
  // The API id the authorizer sees as apiId (permissions may name it): "sample", as locally.
  name: 'sample'
  properties: {
    displayName: 'Sample'
    path: 'sample'
    protocols: ['https']
    // The bearer token is the credential; a subscription key would only stop the page's calls.
    subscriptionRequired: false
    serviceUrl: sampleApiBackendUrl
    format: 'openapi+json'
    value: loadTextContent('../sample-api.openapi.json')
  }
}

resource samplePolicy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = {
  parent: sampleApi
  name: 'policy'
  properties: {
    format: 'xml'
    value: loadTextContent('../../apim/policy.xml')
  }
  // The policy names these as {{…}}: APIM refuses a policy whose named values do not exist.
  dependsOn: [openidConfigUrl, issuerValue, audienceValue, resourceValue, resourceMetadataUrl, authzUrl, authzKey]
}

// RFC 9728: the sample API's protected resource metadata, answered by the policy fragment
// apim/fragment-protected-resource.xml at https://<apim>/.well-known/oauth-protected-resource and
// at its path form …/sample (section 3.1), which every 401 of apim/policy.xml names.
resource protectedResourceFragment 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = {
  parent: apim
  name: 'passkey-protected-resource-metadata'
  properties: {
    format: 'xml'
    value: loadTextContent('../../apim/fragment-protected-resource.xml')
    description: 'Protected resource metadata (RFC 9728) of the sample API (apim/fragment-protected-resource.xml)'
  }
  dependsOn: [resourceValue, issuerValue, resourceScopesValue]
}

resource protectedResourceApi 'Microsoft.ApiManagement/service/apis@2024-05-01' = {
  parent: apim
  name: 'passkey-protected-resource'
  properties: {
    displayName: 'Protected resource metadata'
    path: '.well-known/oauth-protected-resource'
    protocols: ['https']
    subscriptionRequired: false
  }
}

resource protectedResourceOperations 'Microsoft.ApiManagement/service/apis/operations@2024-05-01' = [
  for op in [{ name: 'root', urlTemplate: '/' }, { name: 'sample', urlTemplate: '/sample' }]: {
    parent: protectedResourceApi
    name: op.name
    properties: {
      displayName: 'GET ${op.urlTemplate}'
      method: 'GET'
      urlTemplate: op.urlTemplate
    }
  }
]

resource protectedResourcePolicy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = {
  parent: protectedResourceApi
  name: 'policy'
  properties: {
    format: 'xml'
    value: '<policies><inbound><base /><include-fragment fragment-id="passkey-protected-resource-metadata" /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>'
  }
  dependsOn: [protectedResourceFragment]
}

// Optional: the service's own routes through the gateway, as https://<apim>/id/api/…
// rate-limit-by-key is not offered on Consumption: there the API is published without the
// fragment and the service's own RATE_LIMIT is the limit (docs/apim.md §6a).
var rateLimitInApim = exposeServiceThroughApim && apimSku != 'Consumption'

resource rateLimitFragment 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = if (rateLimitInApim) {
  parent: apim
  name: 'passkey-rate-limit'
  properties: {
    format: 'xml'
    value: loadTextContent('../../apim/policy-rate-limit.xml')
    description: 'Rate limits of the passkey service\'s unauthenticated routes (apim/policy-rate-limit.xml)'
  }
}

resource serviceApi 'Microsoft.ApiManagement/service/apis@2024-05-01' = if (exposeServiceThroughApim) {
  parent: apim
  name: 'passkey-edge'
  properties: {
    displayName: 'Passkey Edge'
    path: 'id'
    protocols: ['https']
    subscriptionRequired: false
    serviceUrl: 'https://${appHostName}'
  }
}

resource serviceOperations 'Microsoft.ApiManagement/service/apis/operations@2024-05-01' = [
  for method in ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']: if (exposeServiceThroughApim) {
    parent: serviceApi
    name: 'all-${toLower(method)}'
    properties: {
      displayName: '${method} /*'
      method: method
      urlTemplate: '/*'
    }
  }
]

resource servicePolicy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = if (rateLimitInApim) {
  parent: serviceApi
  name: 'policy'
  properties: {
    format: 'xml'
    value: '<policies><inbound><base /><include-fragment fragment-id="passkey-rate-limit" /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>'
  }
  dependsOn: [rateLimitFragment]
}
