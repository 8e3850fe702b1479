/**
 * The local server's stand-in for the Functions app's `metadata` timer (functions/index.ts):
 * downloads an https METADATA_BLOB, verifies it and stores it for every instance, or reads a
 * METADATA_BLOB file again (shared/webauthn/metadata.ts `sync`), every `everyMs`.
 */
import type { Core } from '../shared/core.js'
import { timer } from './every.js'

/** How often the local server refreshes the metadata (Azure: daily). */
export const METADATA_EVERY_MS = 24 * 3600_000

/**
 * Starts the timer (see local/every.ts); the returned function stops it.
 *
 * @example
 * const stop = startMetadataSync({ core: service.core })
 * await stop()
 */
export const startMetadataSync = timer<Core>(METADATA_EVERY_MS, 'metadata: failed', (core) => core.metadata.sync())
