// passkey-edge in Azure: the Function App (Flex Consumption) with its storage, Key Vault,
// Application Insights and API Management in front of a sample API. docs/deploy.md explains the
// parameters; `azd up` runs it with main.parameters.json.
//
// Subscription scope, creating the resource group: one deployment builds everything from an empty
// subscription, the group is named after the azd environment, and `azd down` removes the group
// with all of it. The modules deploy into that group.
targetScope = 'subscription'

import { keyEncryptionKeyFromGuids } from 'modules/kek.bicep'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME); names the resource group and seeds the resource names.')
param environmentName string

@minLength(1)
@description('Azure region for every resource (one that offers Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Resource group to create; default rg-<environmentName>.')
param resourceGroupName string = ''

// Service settings (README "Settings"). Empty means: derived from the Function App's own host
// name, https://<app>.azurewebsites.net, so a first deployment works without a domain.
@description('RP_ID: the WebAuthn relying party ID, a registrable domain of the page origins. Passkeys are bound to it for good: choose it before anyone enrols. Default: the Function App host name.')
param rpId string = ''

@description('RP_NAME: the relying party name authenticators show.')
@minLength(1)
param rpName string = 'Passkey Edge'

// The list settings are comma lists here as in the app settings, so that azd can pass them from
// one environment variable each (main.parameters.json).
@description('ALLOWED_ORIGINS: comma list of accepted WebAuthn origins (https, hosts under RP_ID). Default: https://<RP_ID>.')
param allowedOrigins string = ''

@description('ISSUER: the token issuer, an https URL without trailing slash, exactly as APIM compares it. Default: https://<app host>/api.')
param issuer string = ''

@description('AUDIENCES: comma list of token audiences; the first is the default and the one the sample API accepts (APIM named value passkey-audience). The sample API\'s resource URL on the gateway is added to the app setting when missing.')
@minLength(1)
param audiences string = 'api://default'

@description('TOKEN_ALG: access token signature. APIM validate-jwt verifies RS256 and PS256, not ES256.')
@allowed(['RS256', 'PS256'])
param tokenAlg string = 'RS256'

@description('REGISTRATION: open lets anyone create an account; closed admits invitations and BOOTSTRAP_ADMINS only.')
@allowed(['open', 'closed'])
param registration string = 'closed'

@description('BOOTSTRAP_ADMINS: comma list of usernames that get role admin when they register (also while REGISTRATION is closed).')
param bootstrapAdmins string = ''

@description('TRUSTED_PROXY_HOPS: proxies appending to X-Forwarded-For in front of the app (1: the App Service front end). 2 only when every caller comes through APIM.')
@minValue(0)
@maxValue(10)
param trustedProxyHops int = 1

@description('Further app settings (any other setting of README "Settings", e.g. { AUTHZ_CACHE_TTL: \'15\' }); the ones above win.')
param extraAppSettings object = {}

// KEY_ENCRYPTION_KEY. See modules/keyvault.bicep: it is written once and never replaced.
@secure()
@description('KEY_ENCRYPTION_KEY (32 bytes, base64, e.g. openssl rand -base64 32), written to Key Vault when createKeyEncryptionKey is true. Empty (the default): one is generated at deployment time.')
param keyEncryptionKey string = ''

// newGuid() is only allowed as a parameter default; the key is derived from it in a variable.
@secure()
@description('Randomness for a generated KEY_ENCRYPTION_KEY: leave the default (three newGuid() values).')
param keyEncryptionKeySeed string = '${newGuid()}${newGuid()}${newGuid()}'

@description('Write KEY_ENCRYPTION_KEY to Key Vault. true on the first deployment only: a new key makes the signing keys, the audit chain and everything sealed unreadable. azd passes true until this deployment\'s output CREATE_KEY_ENCRYPTION_KEY=false is in the environment.')
param createKeyEncryptionKey bool = false

@description('Only while changing KEY_ENCRYPTION_KEY (docs/security.md "Changing KEY_ENCRYPTION_KEY"): the Key Vault secret version of the key being replaced, set as KEY_ENCRYPTION_KEY_PREVIOUS. Empty otherwise; a provision without it removes the setting.')
param keyEncryptionKeyPreviousVersion string = ''

@description('Key Vault purge protection: a deleted vault (and the KEK) can be recovered for 90 days and cannot be purged sooner; the vault name stays taken meanwhile. Once on, it cannot be turned off.')
param enablePurgeProtection bool = true

// Flex Consumption scale.
@description('Memory of each Function App instance, MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Most Function App instances at once (the cost ceiling under load).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// API Management.
@description('API Management tier. Consumption: pay per call, no built-in cache and no rate-limit-by-key; Developer: no SLA, not for production; BasicV2/StandardV2 and the classic tiers: fixed monthly price. docs/deploy.md compares them.')
@allowed(['Consumption', 'Developer', 'Basic', 'Standard', 'Premium', 'BasicV2', 'StandardV2'])
param apimSku string = 'Consumption'

@description('API Management publisher email (notifications from Azure go there).')
@minLength(3)
param apimPublisherEmail string

@description('API Management publisher name (shown on the developer portal).')
@minLength(1)
param apimPublisherName string = 'Passkey Edge'

@description('Web service URL of the sample API: your backend, which receives the calls the policy allows with X-User-Id and X-User-Roles (locally the echo backend, local/echo.ts).')
@minLength(1)
param sampleApiBackendUrl string

@description('Also publish the service\'s own routes through APIM at /id/api/…, with apim/policy-rate-limit.xml (not on Consumption, which lacks rate-limit-by-key).')
param exposeServiceThroughApim bool = false

var generatedKeyEncryptionKey = keyEncryptionKeyFromGuids([
  substring(keyEncryptionKeySeed, 0, 36)
  substring(keyEncryptionKeySeed, 36, 36)
  substring(keyEncryptionKeySeed, 72, 36)
])

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
// Names are fixed here, not taken from module outputs, so that every resource name and role
// assignment id is known before the deployment starts (what-if can predict them).
var names = {
  appIdentity: 'id-app-${resourceToken}'
  apimIdentity: 'id-apim-${resourceToken}'
  storage: 'st${resourceToken}'
  workspace: 'log-${resourceToken}'
  appInsights: 'appi-${resourceToken}'
  keyVault: 'kv-${resourceToken}'
  plan: 'plan-${resourceToken}'
  app: 'func-${resourceToken}'
  apim: 'apim-${resourceToken}'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
    appIdentityName: names.appIdentity
    apimIdentityName: names.apimIdentity
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: names.storage
    deploymentContainerName: 'app-package'
    appIdentityName: names.appIdentity
  }
  dependsOn: [identities]
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    appIdentityName: names.appIdentity
  }
  dependsOn: [identities]
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    keyVaultName: names.keyVault
    enablePurgeProtection: enablePurgeProtection
    appIdentityName: names.appIdentity
    apimIdentityName: names.apimIdentity
    createKeyEncryptionKey: createKeyEncryptionKey
    keyEncryptionKey: empty(keyEncryptionKey) ? generatedKeyEncryptionKey : keyEncryptionKey
  }
  dependsOn: [identities]
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: names.plan
    appName: names.app
    appIdentityId: identities.outputs.appIdentityId
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

module apim 'modules/apim.bicep' = {
  name: 'apim'
  scope: rg
  params: {
    location: location
    tags: tags
    apimName: names.apim
    sku: apimSku
    publisherEmail: apimPublisherEmail
    publisherName: apimPublisherName
    apimIdentityId: identities.outputs.apimIdentityId
  }
}

var appHost = functionApp.outputs.hostName
var effectiveRpId = empty(rpId) ? appHost : rpId
var effectiveOrigins = empty(allowedOrigins) ? 'https://${effectiveRpId}' : allowedOrigins
var effectiveIssuer = empty(issuer) ? 'https://${appHost}/api' : issuer
// RFC 8707 / RFC 9728: the sample API's URL on this gateway is its resource (APIM named value
// passkey-resource, modules/apim-apis.bicep), what MCP clients ask a token for: always one of
// AUDIENCES, after the ones given (the first stays the default), so a fresh deployment's MCP
// flow works without editing the parameter (docs/mcp.md).
// union() keeps the order and drops a repeat.
var sampleResource = '${apim.outputs.gatewayUrl}/sample'
var effectiveAudiences = join(union(split(replace(audiences, ' ', ''), ','), [sampleResource]), ',')

module appSettings 'modules/appsettings.bicep' = {
  name: 'appsettings'
  scope: rg
  params: {
    appName: names.app
    appClientId: identities.outputs.appClientId
    storageAccountName: storage.outputs.name
    tableEndpoint: storage.outputs.tableEndpoint
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyEncryptionKeySecretUri: keyVault.outputs.keyEncryptionKeySecretUri
    keyEncryptionKeyPreviousVersion: keyEncryptionKeyPreviousVersion
    rpId: effectiveRpId
    rpName: rpName
    allowedOrigins: effectiveOrigins
    issuer: effectiveIssuer
    audiences: effectiveAudiences
    tokenAlg: tokenAlg
    registration: registration
    bootstrapAdmins: bootstrapAdmins
    gatewayUrl: apim.outputs.gatewayUrl
    trustedProxyHops: trustedProxyHops
    extraAppSettings: extraAppSettings
  }
}

module functionKey 'modules/functionkey.bicep' = {
  name: 'functionkey'
  scope: rg
  params: {
    appName: names.app
    keyVaultName: names.keyVault
  }
  // The host needs its storage settings before it can hand out keys.
  dependsOn: [appSettings, keyVault]
}

module apimApis 'modules/apim-apis.bicep' = {
  name: 'apim-apis'
  scope: rg
  params: {
    apimName: names.apim
    appHostName: appHost
    issuer: effectiveIssuer
    audience: trim(split(audiences, ',')[0])
    allowedOrigins: map(split(effectiveOrigins, ','), o => trim(o))
    authzKeySecretUri: functionKey.outputs.secretUri
    apimClientId: identities.outputs.apimClientId
    sampleApiBackendUrl: sampleApiBackendUrl
    exposeServiceThroughApim: exposeServiceThroughApim
    apimSku: apimSku
  }
  // APIM reads the Key Vault secret with its identity: its role (keyvault module) must exist first.
  dependsOn: [apim, keyVault]
}

// azd saves outputs in the environment (.azure/<env>/.env), and main.parameters.json reads the
// environment: CREATE_KEY_ENCRYPTION_KEY is read back (so only the first provision writes the KEK);
// the others are named apart from the inputs (ISSUER, RP_ID, …) so as not to feed back into them.
output CREATE_KEY_ENCRYPTION_KEY bool = false
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = names.app
output PAGE_URL string = 'https://${appHost}/api/ui'
output PASSKEY_ISSUER string = effectiveIssuer
output APIM_GATEWAY_URL string = apim.outputs.gatewayUrl
output SAMPLE_API_URL string = sampleResource
