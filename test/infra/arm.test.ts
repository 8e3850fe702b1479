/**
 * infra/main.bicep against what the service and the policy pack need in Azure. The template is
 * compiled by the pinned Bicep CLI (scripts/bicep.sh) to ARM JSON and to deployment snapshots
 * (`bicep snapshot`: the resources it would deploy for given parameters); values only Azure knows
 * at deployment time (`reference(…)`) are filled in by a stand-in (test/infra/arm.ts).
 *
 * Without dotnet the suite skips, saying so; CI sets REQUIRE_BICEP=1, so there it fails instead.
 * Nothing is deployed: what Azure itself would accept or refuse is not checked here.
 */
import { TABLE_NAMES } from '../../shared/store/tables/client.js'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { loadConfig, SETTINGS } from '../../shared/config.js'
import { SAMPLE_API_OPERATIONS, SAMPLE_API_SUFFIX } from '../../shared/sampleApi.js'
import { bicep, evaluate, findBicep, kekFromGuids, LISTED_SECRET, mainBicep, root, snapshot, strings, type PredictedResource, type Snapshot } from './arm.js'

const found = findBicep()
if ('unavailable' in found && process.env.REQUIRE_BICEP === '1')
  throw new Error(`REQUIRE_BICEP=1 but the Bicep CLI is unavailable: ${found.unavailable}`)
const skip = 'unavailable' in found ? `Bicep CLI unavailable (${found.unavailable}); CI runs this with REQUIRE_BICEP=1` : false
const bicepPath = 'path' in found ? found.path : ''

const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8')

/** Azure's built-in role definition ids (az role definition list --name "<name>"). */
const ROLE = {
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
} as const

// Parameters every snapshot needs (the ones without a default).
const REQUIRED_PARAMS = { environmentName: 'ci', location: 'westeurope', apimPublisherEmail: 'ops@example.com', sampleApiBackendUrl: 'https://orders.example.com' }

// Two deployments: the defaults (a first azd up on the Function App's own host name), and a
// custom domain with the first-deployment KEK and the service behind a Developer-tier APIM.
const CUSTOM = {
  ...REQUIRED_PARAMS,
  rpId: 'example.com',
  allowedOrigins: 'https://id.example.com,https://app.example.com',
  issuer: 'https://id.example.com/api',
  audiences: 'api://orders,api://default',
  registration: 'open',
  bootstrapAdmins: 'alice,bob',
  createKeyEncryptionKey: true,
  exposeServiceThroughApim: true,
  apimSku: 'Developer',
}

let arm: {
  parameters: Record<string, { type: string; defaultValue?: unknown }>
  resources: Record<string, { type: string; properties: { parameters: unknown; template: unknown } }>
  outputs: Record<string, unknown>
}
let buildDiagnostics = ''
let defaults: Snapshot
let custom: Snapshot

const ofType = (s: Snapshot, type: string) => s.predictedResources.filter((r) => r.type === type)
const one = (s: Snapshot, type: string, name?: string): PredictedResource => {
  const rs = ofType(s, type).filter((r) => name === undefined || r.name === name || r.name.endsWith(`/${name}`))
  assert.equal(rs.length, 1, `exactly one ${type}${name ? ` named ${name}` : ''}, got ${rs.map((r) => r.name).join(', ') || 'none'}`)
  return rs[0]!
}
const props = (r: PredictedResource) => r.properties as Record<string, any>
const appSettings = (s: Snapshot) => props(one(s, 'Microsoft.Web/sites/config', 'appsettings')) as Record<string, unknown>
const evaluated = (settings: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(evaluate(v))]))

/** The identity a user-assigned identity id or reference names (its resource name). */
const identityName = (s: Snapshot, role: 'app' | 'apim') =>
  one(s, 'Microsoft.ManagedIdentity/userAssignedIdentities', ofType(s, 'Microsoft.ManagedIdentity/userAssignedIdentities').find((r) => r.name.startsWith(`id-${role}-`))?.name).name

/**
 * App Service resolving a Key Vault reference. The only one is the KEK: written by this deployment
 * when createKeyEncryptionKey is true, else by an earlier one. Its value is generated from
 * newGuid() at deployment; kek.bicep's function is checked on its own below, so its result for
 * random GUIDs stands in for it. Identities' client ids (GUIDs Azure assigns) are filled in too.
 */
function resolveKeyVaultReferences(s: Snapshot, settings: Record<string, string>, kek: string): Record<string, string> {
  const vault = one(s, 'Microsoft.KeyVault/vaults').name
  return Object.fromEntries(
    Object.entries(settings).map(([k, v]) => {
      // A user-assigned identity's client id is a GUID only Azure assigns: one stands in for it.
      if (!v.startsWith('@Microsoft.KeyVault(')) return [k, v.replace(/clientId\([^)]*\)/g, '00000000-0000-4000-8000-000000000001')]
      assert.equal(v, `@Microsoft.KeyVault(SecretUri=https://${vault}.vault.azure.net/secrets/key-encryption-key)`, `${k} refers to the KEK secret`)
      return [k, kek]
    }),
  )
}

describe('infra/main.bicep (ARM)', { skip }, () => {
  let kek = ''
  before(() => {
    const build = bicep(bicepPath, ['build', mainBicep, '--stdout'])
    arm = JSON.parse(build.stdout)
    buildDiagnostics = build.diagnostics
    defaults = snapshot(bicepPath, REQUIRED_PARAMS)
    custom = snapshot(bicepPath, CUSTOM)
    kek = kekFromGuids(bicepPath, [randomUUID(), randomUUID(), randomUUID()])
  })

  it('compiles and lints with no diagnostic at all (errors or warnings)', () => {
    assert.equal(buildDiagnostics, '')
    assert.equal(bicep(bicepPath, ['lint', mainBicep]).diagnostics, '')
    assert.deepEqual(defaults.diagnostics, [])
    assert.deepEqual(custom.diagnostics, [])
  })

  it('sets on the Function App every setting shared/config.ts requires in Azure', () => {
    for (const s of [defaults, custom]) {
      const settings = resolveKeyVaultReferences(s, evaluated(appSettings(s)), kek)
      // Ask loadConfig what is missing, one setting at a time, and take it from the template:
      // the required list is the settings table's, not restated here.
      const env: Record<string, string> = {}
      const required: string[] = []
      for (;;) {
        try {
          loadConfig(env, { local: false })
          break
        } catch (err) {
          const name = /^Setting (\w+)\b.* required/.exec((err as Error).message)?.[1]
          if (!name) throw err
          assert.ok(!required.includes(name), `${name} is set but still reported missing`)
          assert.ok(settings[name], `the template sets ${name}, which shared/config.ts requires in Azure (${(err as Error).message})`)
          required.push(name)
          env[name] = settings[name]
        }
      }
      assert.ok(required.length >= 5, `required in Azure: ${required.join(', ')}`)
      for (const name of required) assert.ok(SETTINGS.some((d) => d.name === name))
    }
  })

  it('sets values the service accepts in Azure: the parameters, and the host names and gateway URL from Azure', () => {
    const d = loadConfig(resolveKeyVaultReferences(defaults, evaluated(appSettings(defaults)), kek), { local: false })
    const host = `${one(defaults, 'Microsoft.Web/sites').name}.azurewebsites.net`
    assert.equal(d.rpId, host)
    assert.deepEqual(d.allowedOrigins, [`https://${host}`])
    assert.equal(d.issuer, `https://${host}/api`)
    assert.equal(d.registration, 'closed')
    assert.deepEqual(d.bootstrapAdmins, [])
    assert.equal(d.gatewayUrl, `https://${one(defaults, 'Microsoft.ApiManagement/service').name}.azure-api.net`)
    assert.equal(d.tablesEndpoint, `https://${one(defaults, 'Microsoft.Storage/storageAccounts').name}.table.core.windows.net`)
    assert.equal(d.tablesConnectionString, undefined, 'the tables are reached with the identity, not a connection string')
    assert.equal(d.keyEncryptionKey?.length, 32)
    assert.equal(d.trustedProxyHops, 1)

    const c = loadConfig(resolveKeyVaultReferences(custom, evaluated(appSettings(custom)), kek), { local: false })
    assert.equal(c.rpId, 'example.com')
    assert.deepEqual(c.allowedOrigins, ['https://id.example.com', 'https://app.example.com'])
    assert.equal(c.issuer, 'https://id.example.com/api')
    assert.deepEqual(c.audiences, ['api://orders', 'api://default', `https://${one(custom, 'Microsoft.ApiManagement/service').name}.azure-api.net/sample`])
    assert.equal(c.registration, 'open')
    assert.deepEqual(c.bootstrapAdmins, ['alice', 'bob'])
  })

  it('puts no secret in the app settings: the KEK is a Key Vault reference with the user-assigned identity, storage and telemetry need no key', () => {
    for (const s of [defaults, custom]) {
      const raw = appSettings(s)
      const settings = evaluated(raw)
      const vault = one(s, 'Microsoft.KeyVault/vaults').name
      assert.equal(settings.KEY_ENCRYPTION_KEY, `@Microsoft.KeyVault(SecretUri=https://${vault}.vault.azure.net/secrets/key-encryption-key)`)
      for (const [name, value] of Object.entries(settings)) {
        assert.doesNotMatch(value, /AccountKey=|SharedAccessSignature=|[?&]sig=|UseDevelopmentStorage/i, name)
        assert.ok(!value.includes(LISTED_SECRET), `${name} holds a listKeys result`)
        assert.doesNotMatch(String(raw[name]), /newGuid|listKeys|listSecrets/, name)
      }
      assert.ok(!('AzureWebJobsStorage' in settings), 'no AzureWebJobsStorage connection string (it would also be the tables\' fallback)')
      assert.ok(!('TABLES_CONNECTION_STRING' in settings))
      // The connection string is not a credential only because local authentication is off.
      assert.equal(props(one(s, 'Microsoft.Insights/components')).DisableLocalAuth, true)
      const site = one(s, 'Microsoft.Web/sites')
      const appIdentity = Object.keys(site.identity?.userAssignedIdentities ?? {})
      assert.equal(site.identity?.type, 'UserAssigned')
      assert.equal(appIdentity.length, 1)
      assert.match(appIdentity[0]!, new RegExp(`/userAssignedIdentities/${identityName(s, 'app')}$`))
      assert.equal(props(site).keyVaultReferenceIdentity, appIdentity[0], 'Key Vault references resolve with the user-assigned identity')
    }
    // The secure parameters never reach the app settings module, nor any output.
    const modules = Object.values(arm.resources).filter((r) => r.type === 'Microsoft.Resources/deployments')
    const appSettingsModule = modules.filter((m) => JSON.stringify(m.properties.template).includes('Microsoft.Web/sites/config'))
    assert.equal(appSettingsModule.length, 1)
    assert.doesNotMatch(JSON.stringify(appSettingsModule[0]!.properties.parameters), /parameters\('keyEncryptionKey(Seed)?'\)|generatedKeyEncryptionKey/)
    for (const [name, output] of Object.entries(arm.outputs)) assert.doesNotMatch(JSON.stringify(output), /parameters\('keyEncryptionKey(Seed)?'\)|generatedKeyEncryptionKey|listKeys/, name)
    assert.equal(arm.parameters.keyEncryptionKey?.type, 'securestring')
    assert.equal(arm.parameters.keyEncryptionKeySeed?.type, 'securestring')
  })

  it('runs on Flex Consumption (FC1, Node 20), deploying from a blob container read with the user-assigned identity', () => {
    const plan = one(defaults, 'Microsoft.Web/serverfarms')
    assert.deepEqual(plan.sku, { tier: 'FlexConsumption', name: 'FC1' })
    assert.equal(props(plan).reserved, true)
    const site = one(defaults, 'Microsoft.Web/sites')
    assert.equal(site.kind, 'functionapp,linux')
    assert.equal(site.tags?.['azd-service-name'], 'api')
    const config = props(site).functionAppConfig
    assert.deepEqual(config.runtime, { name: 'node', version: '20' })
    assert.deepEqual(config.scaleAndConcurrency, { instanceMemoryMB: 2048, maximumInstanceCount: 40 })
    const storage = one(defaults, 'Microsoft.Storage/storageAccounts')
    const container = one(defaults, 'Microsoft.Storage/storageAccounts/blobServices/containers')
    assert.equal(evaluate(config.deployment.storage.value), `https://${storage.name}.blob.core.windows.net/${container.name.split('/').at(-1)}`)
    assert.equal(config.deployment.storage.type, 'blobContainer')
    assert.deepEqual(config.deployment.storage.authentication, {
      type: 'UserAssignedIdentity',
      userAssignedIdentityResourceId: Object.keys(site.identity!.userAssignedIdentities!)[0],
    })
    // Flex Consumption refuses the settings its functionAppConfig replaces.
    for (const name of ['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_NODE_DEFAULT_VERSION'])
      assert.ok(!(name in appSettings(defaults)), name)
  })

  it('the storage account takes no key and no anonymous reader, and the host reaches it with the user-assigned identity', () => {
    const storage = one(defaults, 'Microsoft.Storage/storageAccounts')
    assert.equal(props(storage).allowSharedKeyAccess, false)
    assert.equal(props(storage).allowBlobPublicAccess, false)
    assert.equal(props(storage).minimumTlsVersion, 'TLS1_2')
    assert.equal(props(storage).supportsHttpsTrafficOnly, true)
    const settings = evaluated(appSettings(defaults))
    const app = identityName(defaults, 'app')
    assert.equal(settings.AzureWebJobsStorage__accountName, storage.name)
    assert.equal(settings.AzureWebJobsStorage__credential, 'managedidentity')
    assert.equal(settings.AzureWebJobsStorage__clientId, `clientId(${app})`)
    // DefaultAzureCredential (the Table store's credential) picks the user-assigned identity by it.
    assert.equal(settings.AZURE_CLIENT_ID, `clientId(${app})`)
    assert.equal(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING, `ClientId=clientId(${app});Authorization=AAD`)
  })

  it("creates every table of the Table store (TABLE_NAMES), so a cold start need not wait for the service's own check", () => {
    const tables = ofType(defaults, 'Microsoft.Storage/storageAccounts/tableServices/tables').map((r) => r.name.split('/').at(-1))
    assert.deepEqual([...tables].sort(), [...TABLE_NAMES].sort())
    assert.equal(evaluated(appSettings(defaults)).TABLE_PREFIX ?? '', '', 'the tables are created without a prefix')
  })

  it('assigns exactly the roles each identity needs, on the resource it needs them for', () => {
    for (const s of [defaults, custom]) {
      const app = identityName(s, 'app')
      const apim = identityName(s, 'apim')
      const scopeOf = (type: string) => one(s, type).id
      const expected = [
        [ROLE['Storage Table Data Contributor'], scopeOf('Microsoft.Storage/storageAccounts'), app],
        [ROLE['Storage Blob Data Owner'], scopeOf('Microsoft.Storage/storageAccounts'), app],
        [ROLE['Monitoring Metrics Publisher'], scopeOf('Microsoft.Insights/components'), app],
        [ROLE['Key Vault Secrets User'], scopeOf('Microsoft.KeyVault/vaults'), app],
        [ROLE['Key Vault Secrets User'], scopeOf('Microsoft.KeyVault/vaults'), apim],
      ].map((a) => a.join(' | '))
      const actual = ofType(s, 'Microsoft.Authorization/roleAssignments').map((r) => {
        const p = props(r)
        assert.equal(p.principalType, 'ServicePrincipal')
        const role = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/.exec(p.roleDefinitionId)?.[1]
        assert.equal(p.roleDefinitionId, `/subscriptions/${r.id.split('/')[2]}/providers/Microsoft.Authorization/roleDefinitions/${role}`)
        const scope = r.id.slice(0, r.id.indexOf('/providers/Microsoft.Authorization/roleAssignments/'))
        const principal = /^principalId\((.+)\)$/.exec(String(evaluate(p.principalId)))?.[1]
        return [role, scope, principal].join(' | ')
      })
      assert.deepEqual(actual.sort(), expected.sort())
    }
  })

  it('sets KEY_ENCRYPTION_KEY_PREVIOUS only during a key change, as a Key Vault reference to the old secret version', () => {
    assert.equal(evaluated(appSettings(defaults)).KEY_ENCRYPTION_KEY_PREVIOUS, '', 'empty: unset for the service')
    const rotating = snapshot(bicepPath, { ...REQUIRED_PARAMS, keyEncryptionKeyPreviousVersion: '0123456789abcdef0123456789abcdef' })
    const vault = one(rotating, 'Microsoft.KeyVault/vaults').name
    assert.equal(
      evaluated(appSettings(rotating)).KEY_ENCRYPTION_KEY_PREVIOUS,
      `@Microsoft.KeyVault(SecretUri=https://${vault}.vault.azure.net/secrets/key-encryption-key/0123456789abcdef0123456789abcdef)`,
    )
  })

  it('writes KEY_ENCRYPTION_KEY to Key Vault only when asked (the first deployment), never as an output', () => {
    assert.equal(ofType(defaults, 'Microsoft.KeyVault/vaults/secrets').filter((r) => r.name.endsWith('/key-encryption-key')).length, 0)
    const secret = one(custom, 'Microsoft.KeyVault/vaults/secrets', `${one(custom, 'Microsoft.KeyVault/vaults').name}/key-encryption-key`)
    assert.match(String(props(secret).value), /newGuid\(\)/, 'generated at deployment time')
    assert.equal(arm.parameters.createKeyEncryptionKey?.defaultValue, false, 'a redeployment without the flag keeps the key')
    // azd reads the output back into the parameter (main.parameters.json), so only the first
    // provision writes the key.
    const parameters = JSON.parse(read('infra', 'main.parameters.json')).parameters
    const envName = /^\$\{(\w+)=true\}$/.exec(parameters.createKeyEncryptionKey.value)?.[1]
    assert.ok(envName, 'azd passes createKeyEncryptionKey from an environment variable defaulting to true')
    assert.equal(defaults.outputs[envName], false)
    for (const [name, value] of Object.entries(defaults.outputs)) assert.ok(!String(value).includes('newGuid'), name)
    const vault = props(one(defaults, 'Microsoft.KeyVault/vaults'))
    assert.equal(vault.enableRbacAuthorization, true)
    assert.equal(vault.enableSoftDelete, true)
    assert.equal(vault.enablePurgeProtection, true)
  })

  it('generates a KEY_ENCRYPTION_KEY of 32 bytes that the service\'s parser takes, from the random digits of three GUIDs', () => {
    const guids = ['0f1e2d3c-4b5a-4697-8877-665544332211', 'aabbccdd-eeff-4011-a233-445566778899', 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF']
    // Each GUID minus its version digit (index 12) and variant digit (index 16), then 64 digits as bytes.
    const digits = guids.map((g) => g.toLowerCase().replaceAll('-', '')).map((h) => h.slice(0, 12) + h.slice(13, 16) + h.slice(17)).join('')
    const generated = kekFromGuids(bicepPath, guids)
    assert.equal(generated, Buffer.from(digits.slice(0, 64), 'hex').toString('base64'))
    const config = loadConfig({ ...resolveKeyVaultReferences(defaults, evaluated(appSettings(defaults)), generated) }, { local: false })
    assert.deepEqual(Buffer.from(config.keyEncryptionKey!), Buffer.from(digits.slice(0, 64), 'hex'))
    assert.notEqual(kek, generated)
  })

  it('creates the APIM named values of apim/named-values.json that apim/policy.xml uses, secret where that file says, the secret one from Key Vault', () => {
    const file = JSON.parse(read('apim', 'named-values.json')) as { namedValues: { name: string; secret: boolean; usedBy: string[] }[] }
    // apim/policy.xml's, and the protected resource metadata fragment's (RFC 9728).
    const wanted = file.namedValues.filter((v) => v.usedBy.includes('policy.xml') || v.usedBy.includes('fragment-protected-resource.xml'))
    for (const s of [defaults, custom]) {
      const created = ofType(s, 'Microsoft.ApiManagement/service/namedValues')
      assert.deepEqual(created.map((r) => r.name.split('/')[1]).sort(), wanted.map((v) => v.name).sort())
      for (const v of wanted) {
        const p = props(created.find((r) => r.name.endsWith(`/${v.name}`))!)
        assert.equal(p.secret, v.secret, `${v.name} secret`)
        assert.equal(p.displayName, v.name)
        if (v.secret) {
          assert.equal(p.value, undefined, `${v.name} has no value in the template`)
          const secret = one(s, 'Microsoft.KeyVault/vaults/secrets', 'authz-function-key')
          assert.equal(evaluate(p.keyVault.secretIdentifier), `https://${secret.name.split('/')[0]}.vault.azure.net/secrets/authz-function-key`)
          assert.equal(evaluate(p.keyVault.identityClientId), `clientId(${identityName(s, 'apim')})`)
        }
      }
      // Every {{name}} the policy uses exists.
      for (const [, name] of read('apim', 'policy.xml').matchAll(/\{\{([\w-]+)\}\}/g))
        assert.ok(created.some((r) => r.name.endsWith(`/${name}`)), `{{${name}}}`)
    }
    const byName = (s: Snapshot, n: string) => evaluate(props(one(s, 'Microsoft.ApiManagement/service/namedValues', n)).value)
    const host = `${one(defaults, 'Microsoft.Web/sites').name}.azurewebsites.net`
    assert.equal(byName(defaults, 'passkey-issuer'), `https://${host}/api`)
    assert.equal(byName(defaults, 'passkey-openid-config-url'), `https://${host}/api/.well-known/openid-configuration`)
    assert.equal(byName(defaults, 'passkey-authz-url'), `https://${host}/api/authz/check`)
    assert.equal(byName(custom, 'passkey-issuer'), CUSTOM.issuer)
    assert.equal(byName(custom, 'passkey-audience'), 'api://orders')
  })

  it('attaches apim/policy.xml to the sample API byte for byte, as format xml (its expressions are XML-encoded)', () => {
    for (const s of [defaults, custom]) {
      const policy = props(one(s, 'Microsoft.ApiManagement/service/apis/policies', 'sample/policy'))
      assert.equal(policy.format, 'xml')
      assert.ok(policy.value === read('apim', 'policy.xml'), 'the policy is apim/policy.xml, unchanged')
    }
  })

  it('imports the sample API of shared/sampleApi.ts from its OpenAPI document, in front of the backend parameter', () => {
    const api = props(one(defaults, 'Microsoft.ApiManagement/service/apis', 'sample'))
    assert.equal(api.format, 'openapi+json')
    assert.equal(api.value, read('infra', 'sample-api.openapi.json'))
    assert.equal(api.path, SAMPLE_API_SUFFIX)
    assert.equal(api.serviceUrl, REQUIRED_PARAMS.sampleApiBackendUrl)
    assert.equal(api.subscriptionRequired, false)
    const doc = JSON.parse(api.value) as { paths: Record<string, Record<string, { operationId?: string }>> }
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => method !== 'parameters')
        .map(([method, op]) => ({ id: op.operationId, method: method.toUpperCase(), urlTemplate: path })),
    )
    const sort = (ops: { id?: string }[]) => [...ops].sort((a, b) => String(a.id).localeCompare(String(b.id)))
    assert.deepEqual(sort(operations), sort(SAMPLE_API_OPERATIONS.map(({ id, method, urlTemplate }) => ({ id, method, urlTemplate }))))
    // The page (another origin) calls the gateway: cors at global scope answers its preflight.
    const global = String(props(one(custom, 'Microsoft.ApiManagement/service/policies')).value)
    for (const o of CUSTOM.allowedOrigins.split(',')) assert.ok(global.includes(`<origin>${o}</origin>`), o)
  })

  it('RFC 8707: AUDIENCES has the sample API\'s resource (the passkey-resource named value) after the given ones, once', () => {
    const gateway = `https://${one(defaults, 'Microsoft.ApiManagement/service').name}.azure-api.net`
    const d = loadConfig(resolveKeyVaultReferences(defaults, evaluated(appSettings(defaults)), kek), { local: false })
    assert.deepEqual(d.audiences, ['api://default', `${gateway}/sample`], 'a fresh deployment: the default audience first, then the sample API')
    const named = evaluate(props(one(defaults, 'Microsoft.ApiManagement/service/namedValues', 'passkey-resource')).value)
    assert.equal(named, `${gateway}/sample`)
    assert.equal(evaluate(defaults.outputs.SAMPLE_API_URL), named)
    // Given already: not twice.
    const given = snapshot(bicepPath, { ...REQUIRED_PARAMS, audiences: `api://default, ${gateway}/sample` })
    assert.deepEqual(loadConfig(resolveKeyVaultReferences(given, evaluated(appSettings(given)), kek), { local: false }).audiences, ['api://default', `${gateway}/sample`])
  })

  it('RFC 9728: publishes the protected resource metadata API (root and /sample) with apim/fragment-protected-resource.xml as a fragment', () => {
    for (const s of [defaults, custom]) {
      const fragment = props(one(s, 'Microsoft.ApiManagement/service/policyFragments', 'passkey-protected-resource-metadata'))
      assert.equal(fragment.format, 'xml')
      assert.ok(fragment.value === read('apim', 'fragment-protected-resource.xml'), 'the fragment is apim/fragment-protected-resource.xml, unchanged')
      const api = props(one(s, 'Microsoft.ApiManagement/service/apis', 'passkey-protected-resource'))
      assert.equal(api.path, '.well-known/oauth-protected-resource')
      assert.equal(api.subscriptionRequired, false)
      const ops = ofType(s, 'Microsoft.ApiManagement/service/apis/operations').filter((r) => r.name.includes('passkey-protected-resource/')).map((r) => props(r))
      assert.deepEqual(ops.map((o) => [o.method, o.urlTemplate]).sort(), [['GET', '/'], ['GET', '/sample']])
      assert.match(String(props(one(s, 'Microsoft.ApiManagement/service/apis/policies', 'passkey-protected-resource/policy')).value), /<include-fragment fragment-id="passkey-protected-resource-metadata" \/>/)
    }
  })

  it('publishes the service itself through APIM only when asked, with apim/policy-rate-limit.xml as a fragment', () => {
    const isMetadata = (r: { name: string }) => r.name.includes('passkey-protected-resource')
    assert.equal(ofType(defaults, 'Microsoft.ApiManagement/service/apis').filter((r) => !isMetadata(r)).length, 1)
    assert.equal(ofType(defaults, 'Microsoft.ApiManagement/service/policyFragments').filter((r) => !isMetadata(r)).length, 0)
    const fragment = props(one(custom, 'Microsoft.ApiManagement/service/policyFragments', 'passkey-rate-limit'))
    assert.equal(fragment.format, 'xml')
    assert.ok(fragment.value === read('apim', 'policy-rate-limit.xml'), 'the fragment is apim/policy-rate-limit.xml, unchanged')
    const api = props(one(custom, 'Microsoft.ApiManagement/service/apis', 'passkey-edge'))
    assert.equal(evaluate(api.serviceUrl), `https://${one(custom, 'Microsoft.Web/sites').name}.azurewebsites.net`)
    assert.match(String(props(one(custom, 'Microsoft.ApiManagement/service/apis/policies', 'passkey-edge/policy')).value), /<include-fragment fragment-id="passkey-rate-limit" \/>/)
    // Consumption has no rate-limit-by-key: the service is published without the fragment.
    const consumption = snapshot(bicepPath, { ...REQUIRED_PARAMS, exposeServiceThroughApim: true, apimSku: 'Consumption' })
    one(consumption, 'Microsoft.ApiManagement/service/apis', 'passkey-edge')
    assert.equal(ofType(consumption, 'Microsoft.ApiManagement/service/policyFragments').filter((r) => !isMetadata(r)).length, 0)
    assert.equal(ofType(consumption, 'Microsoft.ApiManagement/service/apis/policies').filter((r) => r.name.includes('/passkey-edge/')).length, 0)
  })

  it('outputs the page URL, the issuer and the APIM gateway URL, the same ones the app is configured with', () => {
    const settings = evaluated(appSettings(defaults))
    const host = `${one(defaults, 'Microsoft.Web/sites').name}.azurewebsites.net`
    // The page is mounted at /api/ui in Azure (functions/index.ts "page", shared/routes/page.ts).
    assert.equal(evaluate(defaults.outputs.PAGE_URL), `https://${host}/api/ui`)
    assert.equal(evaluate(defaults.outputs.PASSKEY_ISSUER), settings.ISSUER)
    assert.equal(evaluate(defaults.outputs.APIM_GATEWAY_URL), settings.GATEWAY_URL)
    assert.equal(evaluate(custom.outputs.PASSKEY_ISSUER), CUSTOM.issuer)
  })

  it('infra/main.parameters.json passes only parameters main.bicep has, and every one without a default', () => {
    const parameters = JSON.parse(read('infra', 'main.parameters.json')).parameters as Record<string, { value: string }>
    for (const name of Object.keys(parameters)) assert.ok(name in arm.parameters, `${name} is a parameter of main.bicep`)
    for (const [name, p] of Object.entries(arm.parameters))
      if (p.defaultValue === undefined) assert.ok(name in parameters, `${name} (no default) comes from the azd environment`)
    assert.equal(parameters.environmentName?.value, '${AZURE_ENV_NAME}')
    assert.equal(parameters.location?.value, '${AZURE_LOCATION}')
    // No parameter reads back an output other than the KEK flag (outputs land in the same environment).
    const outputs = new Set(Object.keys(arm.outputs))
    for (const [name, p] of Object.entries(parameters)) {
      const env = /^\$\{(\w+)/.exec(p.value)?.[1]
      if (env && outputs.has(env)) assert.equal(name, 'createKeyEncryptionKey', `${name} reads output ${env}`)
    }
  })
})
