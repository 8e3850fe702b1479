// Every app setting of the Function App, in one place. shared/config.ts is the list of the service's
// settings; test/infra/arm.test.ts checks that each one it requires in Azure is set here, and that
// no value here is a secret: the KEK is a Key Vault reference, storage and telemetry go through
// the user-assigned identity (no connection string with a key).
param appName string
param appClientId string
param storageAccountName string
param tableEndpoint string
param appInsightsConnectionString string
param keyEncryptionKeySecretUri string
@description('While KEY_ENCRYPTION_KEY is being changed: the Key Vault secret version of the key it replaces; empty otherwise.')
param keyEncryptionKeyPreviousVersion string = ''
param rpId string
param rpName string
param allowedOrigins string
param issuer string
param audiences string
param tokenAlg string
param registration string
param bootstrapAdmins string
param gatewayUrl string
param trustedProxyHops int
param extraAppSettings object

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(extraAppSettings, {
    // The host's own storage (keys, timer leases), identity-based: no AzureWebJobsStorage
    // connection string, which would also be the service's fallback table connection.
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: appClientId
    // The identity DefaultAzureCredential uses (the Table store's credential): with several
    // identities or a user-assigned one only, @azure/identity takes its client id from here.
    AZURE_CLIENT_ID: appClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${appClientId};Authorization=AAD'
    // The service's settings (README "Settings").
    RP_ID: rpId
    RP_NAME: rpName
    ALLOWED_ORIGINS: allowedOrigins
    ISSUER: issuer
    AUDIENCES: audiences
    TOKEN_ALG: tokenAlg
    REGISTRATION: registration
    BOOTSTRAP_ADMINS: bootstrapAdmins
    GATEWAY_URL: gatewayUrl
    TRUSTED_PROXY_HOPS: string(trustedProxyHops)
    TABLES_ENDPOINT: tableEndpoint
    KEY_ENCRYPTION_KEY: '@Microsoft.KeyVault(SecretUri=${keyEncryptionKeySecretUri})'
    // docs/security.md "Changing KEY_ENCRYPTION_KEY": the old version, until the rotation is done
    // (empty is unset for the service).
    KEY_ENCRYPTION_KEY_PREVIOUS: empty(keyEncryptionKeyPreviousVersion) ? '' : '@Microsoft.KeyVault(SecretUri=${keyEncryptionKeySecretUri}/${keyEncryptionKeyPreviousVersion})'
  })
}
