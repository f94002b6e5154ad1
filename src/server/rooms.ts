// The loaded records of one server: loads a record on first use, unloads it once idle.

import { ObservableV2 } from 'lib0/observable'
import { parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import type { Catalog } from '../docs/catalog-types.ts'
import type { ModelIndex } from '../authz/decide.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import type { RecordStorage } from './storage/port.ts'
import type { Security } from './security.ts'
import { Room, type RoomOptions } from './room.ts'
import type { CommittedEvent, Published, RoomEvents } from './room-events.ts'
import type { BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'
import { DEFAULT_POLICIES, strategyFor, type ConflictPolicies } from '../metadata/conflict-policies.ts'
import type { ConflictStrategy } from '../metadata/conflict-strategies.ts'

export interface RoomsOptions extends RoomOptions {
  readonly storage: RecordStorage
  readonly catalog: Catalog
  readonly security: Security
  /** unload a record this long after its last peer left (ms) */
  readonly idleUnloadMs: number
  readonly now?: () => string
  /** business rules and process flows the projection enforces */
  readonly rules?: readonly BusinessRule[]
  readonly flows?: readonly ProcessFlow[]
  /** the size of attachment content the user uploaded completely (a note may only point at that) */
  readonly blobSize?: (userId: string, hash: string) => number | undefined
  /** the owner of a stored record (`<entity>/<id>`), undefined when there is none: lookups are checked against it */
  readonly ownershipOf?: (record: string) => RecordOwnership | undefined
  /** the conflict strategy of each field (default: later-edit-wins everywhere) */
  readonly conflicts?: ConflictPolicies
  /** how far ahead of the server's clock a write's time may be (ms) */
  readonly maxClockSkewMs?: number
}

/** The time as the records write it; formatted once per millisecond (every update asks for it). */
export const isoNow = (): (() => string) => {
  let ms = -1
  let text = ''
  return () => {
    const t = Date.now()
    if (t !== ms) { ms = t; text = new Date(t).toISOString() }
    return text
  }
}

/** Each attribute's conflict strategy, found once per attribute (the policies are fixed while the server
 * runs; every update asks for the strategy of each field it writes, and finding it builds a string).
 * Shared by the entity's records: an attribute is one of the entity's (the layout refuses any other). */
const strategyCaches = new WeakMap<ConflictPolicies, Map<string, (attribute: string) => ConflictStrategy>>()
const strategiesOf = (policies: ConflictPolicies, entity: string): ((attribute: string) => ConflictStrategy) => {
  let byEntity = strategyCaches.get(policies)
  if (byEntity === undefined) { byEntity = new Map(); strategyCaches.set(policies, byEntity) }
  let of = byEntity.get(entity)
  if (of === undefined) {
    const known = new Map<string, ConflictStrategy>()
    of = attribute => {
      let s = known.get(attribute)
      if (s === undefined) { s = strategyFor(policies, entity, attribute); known.set(attribute, s) }
      return s
    }
    byEntity.set(entity, of)
  }
  return of
}

export class Rooms {
  private readonly rooms = new Map<DocName, Room>()
  private readonly timers = new Map<DocName, NodeJS.Timeout>()
  private readonly options: RoomsOptions
  private readonly now: () => string
  /** what every loaded record publishes (each room's `events`, in one place) */
  readonly events = new ObservableV2<RoomEvents>()

  constructor (options: RoomsOptions) {
    this.options = options
    this.now = options.now ?? isoNow()
  }

  /** Closes, in every loaded record, the sockets of users who may no longer read it. */
  revokeUnreadable (ix: ModelIndex): void {
    for (const r of this.rooms.values()) r.revokeUnreadable(ix)
  }

  /**
   * An update another server instance committed to `record` (`prevSeq`: the record's position before it):
   * a loaded copy takes it in (or catches up); either way the record's listeners hear of it.
   */
  applyPeer (record: DocName, prevSeq: number, seq: number, updates: readonly Uint8Array[], published: Published = {}): void {
    const room = this.find(record)
    if (room !== undefined) room.applyPeer(prevSeq, seq, updates, published)
    else this.events.emit('committed', [{ record, updates, ownerChanged: false, seq, prevSeq, remote: true }])
  }

  /** Every loaded copy takes in what other instances committed meanwhile (after fan-out was cut). */
  catchUpAll (): void {
    for (const r of this.rooms.values()) r.catchUp()
  }

  /** The records loaded now. */
  names (): DocName[] {
    return [...this.rooms.keys()]
  }

  /** Loaded copies behind their record's newest log position (`positions`) catch up. */
  catchUpTo (positions: ReadonlyMap<DocName, number>): void {
    for (const [name, seq] of positions) this.find(name)?.catchUpTo(seq)
  }

  /** The room of a record, loading it if needed. Await `room.ready` before answering anything. */
  get (name: DocName): Room {
    this.cancelUnload(name)
    let room = this.rooms.get(name)
    if (room === undefined || room.isBroken) {
      if (room !== undefined) this.drop(name, room)
      const { catalog, storage, security, rules, flows, blobSize, ownershipOf, conflicts = DEFAULT_POLICIES, maxClockSkewMs = 120_000 } = this.options
      // A record's document, or the document of one of its secured fields.
      const field = parseFieldDocName(name)
      const entity = catalog.entities.get(field?.entity ?? parseDocName(name)?.entity ?? '')
      if (entity === undefined) throw new Error(`no entity for ${name}`)
      const parentOwnership = field === null
        ? undefined
        : () => this.rooms.get(field.record)?.ownership() ?? ownershipOf?.(field.record)
      room = new Room(name, storage, this.options, {
        entity, security, now: this.now, rules, flows, blobSize, ownershipOf, field: field?.attribute, parentOwnership,
        conflicts: { strategyOf: strategiesOf(conflicts, entity.name), maxSkewMs: maxClockSkewMs }
      })
      room.events.on('committed', e => this.committed(e))
      room.events.on('evicted', e => this.events.emit('evicted', [e]))
      room.events.on('presence', e => this.events.emit('presence', [e]))
      this.rooms.set(name, room)
      // A record that nobody joins (a failed upgrade) must not stay loaded.
      this.scheduleUnload(name)
    }
    return room
  }

  private committed (e: CommittedEvent): void {
    // A record's new owner decides who reads its secured fields too: their documents check their members.
    if (e.ownerChanged) for (const [n, r] of this.rooms) if (n.startsWith(`${e.record}/`)) r.revokeUnreadable(this.options.security.index)
    this.events.emit('committed', [e])
  }

  /** Called when a peer leaves: unload after the idle delay if nobody is left. */
  released (name: DocName): void {
    const room = this.rooms.get(name)
    if (room !== undefined && room.members.size === 0) this.scheduleUnload(name)
  }

  get loaded (): number {
    return this.rooms.size
  }

  has (name: DocName): boolean {
    return this.rooms.has(name)
  }

  /** The room of a record if it is loaded, without loading it or putting off its unloading. */
  find (name: DocName): Room | undefined {
    const room = this.rooms.get(name)
    return room === undefined || room.isBroken ? undefined : room
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
      if (room === undefined || room.members.size > 0) return
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
