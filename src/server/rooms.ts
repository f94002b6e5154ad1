// The loaded records of one server: loads a record on first use, unloads it once idle.

import { parseDocName, type DocName } from '../ids.ts'
import type { Catalog } from '../docs/catalog-types.ts'
import type { ModelIndex } from '../authz/decide.ts'
import type { RecordStorage } from './storage/port.ts'
import type { Security } from './security.ts'
import { Room, type RoomOptions } from './room.ts'
import type { BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'

export interface RoomsOptions extends RoomOptions {
  /** unload a record this long after its last peer left (ms) */
  readonly idleUnloadMs: number
}

export class Rooms {
  private readonly rooms = new Map<DocName, Room>()
  private readonly timers = new Map<DocName, NodeJS.Timeout>()
  private readonly storage: RecordStorage
  private readonly options: RoomsOptions
  private readonly catalog: Catalog
  private readonly security: Security
  private readonly now: () => string
  private readonly commitListeners = new Set<(name: DocName) => void>()

  private readonly rules: readonly BusinessRule[]
  private readonly flows: readonly ProcessFlow[]

  constructor (
    storage: RecordStorage, options: RoomsOptions, catalog: Catalog, security: Security, now: () => string = () => new Date().toISOString(),
    rules: readonly BusinessRule[] = [], flows: readonly ProcessFlow[] = []
  ) {
    this.rules = rules
    this.flows = flows
    this.storage = storage
    this.options = options
    this.catalog = catalog
    this.security = security
    this.now = now
  }

  /** Calls `l` after every commit that changed a record; returns the unsubscribe. */
  onCommit (l: (name: DocName) => void): () => void {
    this.commitListeners.add(l)
    return () => this.commitListeners.delete(l)
  }

  /** Closes, in every loaded record, the sockets of users who may no longer read it. */
  revokeUnreadable (ix: ModelIndex): void {
    for (const r of this.rooms.values()) r.revokeUnreadable(ix)
  }

  /** The room of a record, loading it if needed. Await `room.ready` before answering anything. */
  get (name: DocName): Room {
    this.cancelUnload(name)
    let room = this.rooms.get(name)
    if (room === undefined || room.isBroken) {
      if (room !== undefined) this.drop(name, room)
      const entity = this.catalog.entities.get(parseDocName(name)?.entity ?? '')
      if (entity === undefined) throw new Error(`no entity for ${name}`)
      room = new Room(name, this.storage, this.options, {
        entity, security: this.security, now: this.now, rules: this.rules, flows: this.flows, onCommit: n => { for (const l of this.commitListeners) l(n) }
      })
      this.rooms.set(name, room)
      // A record that nobody joins (a failed upgrade) must not stay loaded.
      this.scheduleUnload(name)
    }
    return room
  }

  /** Called when a peer leaves: unload after the idle delay if nobody is left. */
  released (name: DocName): void {
    const room = this.rooms.get(name)
    if (room !== undefined && room.peers.size === 0) this.scheduleUnload(name)
  }

  get loaded (): number {
    return this.rooms.size
  }

  has (name: DocName): boolean {
    return this.rooms.has(name)
  }

  private cancelUnload (name: DocName): void {
    const t = this.timers.get(name)
    if (t !== undefined) { clearTimeout(t); this.timers.delete(name) }
  }

  private scheduleUnload (name: DocName): void {
    this.cancelUnload(name)
    const t = setTimeout(() => {
      this.timers.delete(name)
      const room = this.rooms.get(name)
      if (room === undefined || room.peers.size > 0) return
      if (room.busy) { this.scheduleUnload(name); return }
      this.drop(name, room)
    }, this.options.idleUnloadMs)
    t.unref()
    this.timers.set(name, t)
  }

  private drop (name: DocName, room: Room): void {
    this.rooms.delete(name)
    room.destroy()
  }

  /** Waits for every room to commit what it has queued, then unloads all. */
  async close (): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    await Promise.all([...this.rooms.values()].map(r => r.settled()))
    for (const [name, room] of this.rooms) this.drop(name, room)
  }
}
