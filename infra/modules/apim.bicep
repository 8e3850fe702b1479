// The API Management instance, on its own so that the Function App's settings can take its gateway
// URL before the APIs (apim-apis.bicep) take the Function App's host name and key.
param location string
param tags object
param apimName string
@allowed(['Consumption', 'Developer', 'Basic', 'Standard', 'Premium', 'BasicV2', 'StandardV2'])
param sku string
param publisherEmail string
param publisherName string
param apimIdentityId string

resource apim 'Microsoft.ApiManagement/service@2024-05-01' = {
  name: apimName
  location: location
  tags: tags
  sku: {
    name: sku
    // Consumption has no units; every other tier starts with one.
    capacity: sku == 'Consumption' ? 0 : 1
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${apimIdentityId}': {} }
  }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
  }
}

output name string = apim.name
output gatewayUrl string = apim.properties.gatewayUrl
