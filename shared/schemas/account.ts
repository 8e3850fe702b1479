/** The signed-in account's own shapes (CONTRACT "Account self-service"). */
import * as v from 'valibot'
import { StringList } from './common.js'
import { text } from './webauthn.js'

export const Me = v.object({
  id: v.string(),
  username: v.string(),
  displayName: v.string(),
  roles: StringList,
  disabled: v.optional(v.boolean()),
})
export type MeBody = v.InferOutput<typeof Me>

/** PATCH /me/credentials/{id}: a new label (required, after trimming). */
export const CredentialLabelUpdate = v.pipe(
  v.object({ label: text('label') }),
  v.metadata({ required: ['label'] }),
  // Absent, null and blank all read "label is required" (text() makes each of them undefined).
  v.check((b) => b.label !== undefined, 'label is required'),
  v.transform((b) => ({ label: b.label! })),
)
