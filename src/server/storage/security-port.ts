// The security model port: every version of the model (a decision may be replayed under the privileges
// a device last received), what each principal's device last received, server settings, and sign-in
// (passwords, token generations, sessions: credential-port.ts).
// Synchronous: the model is read inside decisions and at start; versions are few and small, so an
// adapter over the network loads them at open. Adapters pass test/server/ports/security-suite.ts.

import type { SecurityModel } from '../../authz/model.ts'
import type { CredentialStore } from './credential-port.ts'

export interface SecurityStore {
  /** The newest saved version, or undefined before the first save. */
  latest (): SecurityModel | undefined
  /** The newest saved version's number, cheaply (a store that other processes write: they may have saved one). */
  latestVersion? (): number
  at (version: number): SecurityModel | undefined
  /** Saves a new version (versions only grow; a version is saved once). */
  save (model: SecurityModel): void
  /** The privilege version a principal's device last received, if any. */
  delivered (principal: string): number | undefined
  setDelivered (principal: string, version: number): void
  getSetting (key: string): string | undefined
  setSetting (key: string, value: string): void
  /** passwords, token generations and sign-in sessions, over the same storage */
  readonly credentials: CredentialStore
}
