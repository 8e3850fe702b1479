// The one storage account: the service's tables (created here, so a cold start need not wait for
// the service's own idempotent check; named TABLE_PREFIX + name, the prefix empty here), the
// Functions host's own blobs, and the container Flex Consumption deploys
// the package from. No account key is usable (allowSharedKeyAccess false): everything reaches it
// with the Function App's user-assigned identity and the two data roles below.
import { roleIds } from 'roles.bicep'

param location string
param tags object
param storageAccountName string
param deploymentContainerName string
@description('The service\'s tables (shared/store/tables/client.ts TABLE_NAMES; test/infra/arm.test.ts checks the list).')
param tableNames array = ['users', 'usernames', 'credentials', 'challenges', 'signingkeys', 'roles', 'audit']
@description('The Function App\'s user-assigned identity (modules/identities.bicep).')
param appIdentityName string

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: appIdentityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    // Entra ID is the default in the portal too, so no one is offered a key that cannot work.
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource tableServices 'tableServices' = {
    name: 'default'
    resource serviceTables 'tables' = [for table in tableNames: {
      name: table
    }]
  }

  resource blobServices 'blobServices' = {
    name: 'default'
    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appIdentity.id, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appIdentity.id, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = storage.name
// No trailing slash (primaryEndpoints has one): the Table client appends "/<table>".
output tableEndpoint string = 'https://${storage.name}.table.${environment().suffixes.storage}'
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
