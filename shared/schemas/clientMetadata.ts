/**
 * A client ID metadata document (draft-ietf-oauth-client-id-metadata-document §4, RFC 7591 §2
 * members): what shared/oauth/clientMetadata.ts accepts. Other members are ignored.
 */
import * as v from 'valibot'

export const ClientMetadataDocument = v.looseObject({
  client_id: v.pipe(v.string(), v.maxLength(2048)),
  client_name: v.optional(v.pipe(v.string(), v.maxLength(200))),
  client_uri: v.optional(v.string()),
  logo_uri: v.optional(v.string()),
  redirect_uris: v.array(v.string()),
  // Public clients only: `none`, or absent (then none).
  token_endpoint_auth_method: v.optional(v.picklist(['none'])),
  grant_types: v.optional(v.array(v.string())),
  response_types: v.optional(v.array(v.string())),
  scope: v.optional(v.string()),
})
export type ClientMetadataDocumentBody = v.InferOutput<typeof ClientMetadataDocument>
