// The vault: RBAC authorization (no access policies), soft delete, purge protection by parameter.
// It holds KEY_ENCRYPTION_KEY (bound to the app setting by a Key Vault reference, so the value is
// never an app setting nor a deployment output) and, written by functionKey.bicep, the function
// key APIM sends to the authorizer. Both identities get Key Vault Secrets User on the vault: it
// holds only these two secrets.
import { roleIds } from 'roles.bicep'

param location string
param tags object
param keyVaultName string
param enablePurgeProtection bool
param appIdentityName string
param apimIdentityName string
@description('Write KEY_ENCRYPTION_KEY (true only when the secret does not exist yet; see main.bicep).')
param createKeyEncryptionKey bool
@secure()
param keyEncryptionKey string

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: appIdentityName
}

resource apimIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: apimIdentityName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Key Vault accepts true or absent, never false once set: absent keeps it off.
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

// The KEK wraps the signing keys, seals challenges and OAuth codes and keys the audit chain: a new
// value makes all of them unreadable, and the service cannot rotate it. So it is written only when
// asked (the first deployment), never on a redeployment.
resource kek 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (createKeyEncryptionKey) {
  parent: vault
  name: 'key-encryption-key'
  properties: {
    value: keyEncryptionKey
    contentType: 'KEY_ENCRYPTION_KEY: 32 bytes, base64'
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appIdentity.id, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource apimSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, apimIdentity.id, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: apimIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
// Versionless: the app and APIM follow the latest version of each secret.
output keyEncryptionKeySecretUri string = '${vault.properties.vaultUri}secrets/key-encryption-key'
