// The function key APIM sends as x-functions-key to the authorizer (authLevel "function"), copied
// into Key Vault so that the APIM named value is a Key Vault reference and the key is neither a
// deployment output nor a plain named value. It is the host's default function key, read with
// listKeys: a value generated here would change on every deployment, and APIM refreshes
// Key Vault-backed named values only every few hours. Rotate it with
// `az functionapp keys set … --key-type functionKeys --key-name default`, then provision again.
// Runs after the app settings: the host keeps its keys in its storage (AzureWebJobsStorage).
param appName string
param keyVaultName string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource authzKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'authz-function-key'
  properties: {
    value: listKeys('${site.id}/host/default', '2024-04-01').functionKeys.default
    contentType: 'x-functions-key for POST /api/authz/check (APIM named value passkey-authz-key)'
  }
}

output secretUri string = '${vault.properties.vaultUri}secrets/${authzKey.name}'
