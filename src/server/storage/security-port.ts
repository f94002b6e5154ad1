// The security model port: every version of the model (a decision may be replayed under the privileges
// a device last received), what each principal's device last received, server settings, and sign-in
// (passwords, token generations, sessions: credential-port.ts).
// Synchronous: the model is read inside decisions and at start. Adapters pass test/server/ports/security-suite.ts.

import type { SecurityModel } from '../../authz/model.ts'
import type { CredentialStore } from './credential-port.ts'

/**
 * The newest model versions a store keeps, besides each principal's delivered one (so at most this many
 * plus one per user). Older versions only told `privilege-revoked` from a plain refusal for a device that
 * last synced long ago; kept all, they let any user with the share privilege make the server keep a copy
 * of the whole model per share change (test/security/model-versions.test.ts).
 */
export const KEPT_MODEL_VERSIONS = 100

export interface SecurityStore {
  /** The newest saved version, or undefined before the first save. */
  latest (): SecurityModel | undefined
  /** The newest saved version's number, cheaply (a store that other processes write: they may have saved one). */
  latestVersion? (): number
  at (version: number): SecurityModel | undefined
  /** Saves a new version (versions only grow; a version is saved once), and forgets those older than the
   * newest KEPT_MODEL_VERSIONS that no principal's devices last received. */
  save (model: SecurityModel): void
  /** The privilege version a principal's device last received, if any. */
  delivered (principal: string): number | undefined
  setDelivered (principal: string, version: number): void
  getSetting (key: string): string | undefined
  setSetting (key: string, value: string): void
  /** passwords, token generations and sign-in sessions, over the same storage */
  readonly credentials: CredentialStore
}
