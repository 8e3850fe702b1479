// Two user-assigned identities, so each holds only the roles it needs: the Function App's (storage,
// telemetry, the KEK) and API Management's (the function-key secret only). User-assigned rather
// than system-assigned: the role assignments exist before the app or the gateway first starts, and
// survive their re-creation.
param location string
param tags object
param appIdentityName string
param apimIdentityName string

resource app 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource apim 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: apimIdentityName
  location: location
  tags: tags
}

output appIdentityId string = app.id
output appClientId string = app.properties.clientId
output appPrincipalId string = app.properties.principalId
output apimIdentityId string = apim.id
output apimClientId string = apim.properties.clientId
output apimPrincipalId string = apim.properties.principalId
