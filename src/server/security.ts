// The current security model of a server, its index, older versions on demand, and who to tell when it
// changes (open sockets lose a record when read access goes).

import { ModelIndex } from '../authz/decide.ts'
import type { SecurityModel } from '../authz/model.ts'
import type { SecurityStore } from './storage/security-port.ts'
import type { CredentialStore } from './storage/credential-port.ts'

export class Security {
  private current: ModelIndex
  private readonly store: SecurityStore
  private readonly older = new Map<number, ModelIndex>()
  private readonly listeners = new Set<(ix: ModelIndex) => void>()

  constructor (store: SecurityStore, initial: SecurityModel) {
    this.store = store
    this.current = new ModelIndex(store.latest() ?? (store.save(initial), initial))
  }

  get index (): ModelIndex { return this.current }
  get model (): SecurityModel { return this.current.model }

  /** The index of an earlier version (kept in storage), or undefined if unknown. */
  at (version: number): ModelIndex | undefined {
    if (version === this.current.version) return this.current
    let ix = this.older.get(version)
    if (ix === undefined) {
      const m = this.store.at(version)
      if (m === undefined) return undefined
      ix = new ModelIndex(m)
      if (this.older.size > 32) this.older.delete(this.older.keys().next().value!)
      this.older.set(version, ix)
    }
    return ix
  }

  /** Applies a change (a pure function of the model that may throw), persists it and tells listeners. */
  change (f: (m: SecurityModel) => SecurityModel): SecurityModel {
    this.refresh() // another instance may have saved a newer version: change that one
    const next = f(this.current.model)
    if (next.version <= this.current.version) throw new Error('a model change must bump the version')
    this.store.save(next)
    this.current = new ModelIndex(next)
    for (const l of this.listeners) l(this.current)
    return next
  }

  /**
   * Takes the newest version saved (by another server instance sharing the store) if it is newer than the
   * current one, and tells listeners. Asked in each record transaction and when an instance announces a
   * change; a store used by one process alone has nothing newer.
   */
  refresh (known?: number): void {
    // `known`: the newest version saved, read by the caller (in its transaction): asked of the store otherwise
    if (known !== undefined && known <= this.current.version) return
    const saved = known ?? this.store.latestVersion?.()
    if (saved === undefined || saved <= this.current.version) return
    const model = this.store.latest()
    if (model === undefined || model.version <= this.current.version) return
    this.current = new ModelIndex(model)
    for (const l of this.listeners) l(this.current)
  }

  onChange (l: (ix: ModelIndex) => void): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  delivered (principal: string): number | undefined { return this.store.delivered(principal) }
  setDelivered (principal: string, version: number): void { this.store.setDelivered(principal, version) }
  setting (key: string): string | undefined { return this.store.getSetting(key) }
  setSetting (key: string, value: string): void { this.store.setSetting(key, value) }
  /** passwords, token generations and sign-in sessions (src/server/authenticator.ts uses them) */
  get credentials (): CredentialStore { return this.store.credentials }
}
