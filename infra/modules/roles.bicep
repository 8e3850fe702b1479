// The built-in Azure role definitions this deployment assigns, written once (imported by the
// modules that assign them). Ids are the same in every tenant: az role definition list --name <name>.
@export()
var roleIds = {
  // Storage Table Data Contributor: the service's own tables (read, write, delete entities; create tables).
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Storage Blob Data Owner: the Functions host's blobs (keys, timer leases) and the deployment package container.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Monitoring Metrics Publisher: Application Insights ingestion with Entra ID (the component has DisableLocalAuth).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Key Vault Secrets User: read secret values (the KEK reference; APIM's function-key named value).
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}
