// The loaded records of one server: loads a record on first use, unloads it once idle.

import { ObservableV2 } from 'lib0/observable'
import { fieldDocName, parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { attributeOf, type AttributeDef, type Catalog, type EntityDef } from '../docs/catalog-types.ts'
import { recordValue, type Row } from '../docs/row.ts'
import type { ModelIndex } from '../authz/decide.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import type { RecordStorage } from './storage/port.ts'
import type { Security } from './security.ts'
import { Room, type RoomOptions } from './room.ts'
import { MAX_IDLE_ROOM_BYTES, MAX_IDLE_ROOMS, STATE_REPLIES, WHOLE_REFUSALS } from './room-types.ts'
import { CostBudgets } from './rate-limit.ts'
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
  /** the most records kept loaded with no one using them: past it the one idle longest is unloaded at once
   * (default MAX_IDLE_ROOMS) */
  readonly maxIdleRooms?: number
  /** what they may take, estimated (`Room.weight`): past it those idle longest are unloaded at once
   * (default MAX_IDLE_ROOM_BYTES) */
  readonly maxIdleBytes?: number
  readonly now?: () => string
  /** business rules and process flows the projection enforces */
  readonly rules?: readonly BusinessRule[]
  readonly flows?: readonly ProcessFlow[]
  /** the size of attachment content the user uploaded completely (a note may only point at that) */
  readonly blobSize?: (userId: string, hash: string) => number | undefined
  /** the owner of a stored record (`<entity>/<id>`), undefined when there is none: lookups are checked against it */
  readonly ownershipOf?: (record: string) => RecordOwnership | undefined
  /** a stored record's row (`<entity>/<id>`): business rules read the values kept outside a document from it */
  readonly storedRow?: (record: DocName) => Row | undefined
  /** the conflict strategy of each field (default: later-edit-wins everywhere) */
  readonly conflicts?: ConflictPolicies
  /** what updates refused whole, and answers to state requests, may cost a user (defaults WHOLE_REFUSALS, STATE_REPLIES) */
  readonly wholeRefusals?: Partial<typeof WHOLE_REFUSALS>
  readonly stateReplies?: Partial<typeof STATE_REPLIES>
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

/** How long a record's secured values read from its row are reused (a commit of one of their documents, on
 * any instance, forgets them at once; this bounds a missed one). */
const STORED_SECURED_MS = 1000

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
  /** per loaded record, its gets not matched by a release yet: while any is open the room may be in use */
  private readonly uses = new Map<DocName, number>()
  private readonly options: RoomsOptions
  private readonly now: () => string
  /** what every loaded record publishes (each room's `events`, in one place) */
  readonly events = new ObservableV2<RoomEvents>()
  /** updates refused whole, per principal across every record (WHOLE_REFUSALS) */
  private readonly wholeRefusals: CostBudgets
  /** answers to state requests, per principal across every record (STATE_REPLIES) */
  private readonly stateReplies: CostBudgets

  constructor (options: RoomsOptions) {
    this.options = options
    this.now = options.now ?? isoNow()
    const budgets = (b: { burstBytes: number, bytesPerSecond: number }): CostBudgets => new CostBudgets({ burst: b.burstBytes, perSecond: b.bytesPerSecond, maxKeys: 10_000, now: Date.now })
    this.wholeRefusals = budgets({ ...WHOLE_REFUSALS, ...options.wholeRefusals })
    this.stateReplies = budgets({ ...STATE_REPLIES, ...options.stateReplies })
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
    else {
      this.committed({ record, updates, ownerChanged: false, seq, prevSeq, remote: true })
      // Whether its owner changed is not known here: the loaded documents of its secured fields check
      // their members (before, a reassignment on another instance left their sockets open here).
      this.checkFieldReaders(record)
    }
  }

  /** The loaded secured-field documents of `record` close the members who may no longer read it. */
  private checkFieldReaders (record: DocName): void {
    if (parseFieldDocName(record) !== null) return
    const entity = record.slice(0, record.indexOf('/'))
    const ix = this.options.security.index
    for (const f of ix.model.securedFields) {
      if (f.startsWith(`${entity}.`)) this.rooms.get(fieldDocName(record, f.slice(entity.length + 1)))?.revokeUnreadable(ix)
    }
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

  /**
   * The room of a record once its stored state is in, for one use (given back with `released`). A room
   * that failed to load is given back before this rejects: kept, it held its record loaded (and failed)
   * for every later use.
   */
  async open (name: DocName): Promise<Room> {
    const room = this.get(name)
    try {
      await room.ready
    } catch (e) {
      this.released(name)
      throw e
    }
    return room
  }

  /** The room of a record, loading it if needed. Await `room.ready` before answering anything. */
  get (name: DocName): Room {
    this.cancelUnload(name)
    this.notIdle(name)
    let room = this.rooms.get(name)
    if (room === undefined || room.isBroken) {
      if (room !== undefined) this.drop(name, room)
      const { catalog, storage, security, rules, flows, blobSize, ownershipOf, conflicts = DEFAULT_POLICIES, maxClockSkewMs = 120_000 } = this.options
      // A record's document, or the document of one of its secured fields.
      const field = parseFieldDocName(name)
      const entity = catalog.entities.get(field?.entity ?? parseDocName(name)?.entity ?? '')
      if (entity === undefined) throw new Error(`no entity for ${name}`)
      // (A deleted record has no owner for its fields' documents: a delete wins over their edits too, as
      // when the record is not loaded and its row is gone.)
      const parentOwnership = field === null
        ? undefined
        : () => {
          const parent = this.rooms.get(field.record)
          if (parent?.doc.getMap('meta').has('deletedon') === true) return undefined
          return parent?.ownership() ?? ownershipOf?.(field.record)
        }
      const record = field === null ? name : field.record
      const elsewhere = (): Record<string, unknown> => this.valuesElsewhere(record, entity, field?.attribute)
      room = new Room(name, storage, this.options, {
        entity, security, now: this.now, rules, flows, blobSize, ownershipOf, field: field?.attribute, parentOwnership, elsewhere,
        conflicts: { strategyOf: strategiesOf(conflicts, entity.name), maxSkewMs: maxClockSkewMs },
        wholeRefusals: this.wholeRefusals, stateReplies: this.stateReplies
      })
      room.events.on('committed', e => this.committed(e))
      room.events.on('evicted', e => this.events.emit('evicted', [e]))
      room.events.on('presence', e => this.events.emit('presence', [e]))
      this.rooms.set(name, room)
      // A record that nobody joins (a failed upgrade) must not stay loaded.
      this.scheduleUnload(name)
    }
    this.uses.set(name, (this.uses.get(name) ?? 0) + 1)
    return room
  }

  /**
   * A record's values kept outside the document of its secured field `attribute` (undefined: outside the
   * record's own document, that is its secured fields). A loaded copy is read first (it holds what its
   * batch integrated and has not committed yet), else the record's row.
   */
  private valuesElsewhere (record: DocName, entity: EntityDef, attribute: string | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    let row: Row | undefined | null = null
    const stored = (a: AttributeDef | undefined, name: string): unknown => {
      if (row === null) row = this.options.storedRow?.(record)
      return recordValue(row?.[name], a?.type === 'boolean')
    }
    if (attribute !== undefined) {
      const values = this.rooms.get(record)?.values()
      if (values !== undefined) Object.assign(out, values)
      else {
        for (const a of entity.attributes) out[a.name] = stored(a, a.name)
        for (const k of ['statecode', 'ownerid'] as const) out[k] = stored(undefined, k)
      }
    }
    // (A record's saves read its secured values every time: those its row holds are kept a moment.)
    const version = this.options.security.index.version
    const now = Date.now()
    let cached = attribute === undefined ? this.storedSecured.get(record) : undefined
    if (cached !== undefined && (cached.version !== version || now - cached.at > STORED_SECURED_MS)) cached = undefined
    const fresh: Record<string, unknown> = {}
    const prefix = `${entity.name}.`
    for (const key of this.options.security.model.securedFields) {
      if (!key.startsWith(prefix)) continue
      const f = key.slice(prefix.length)
      if (f === attribute) continue
      const values = this.rooms.get(fieldDocName(record, f))?.values()
      if (values !== undefined) out[f] = values[f]
      else out[f] = fresh[f] = cached !== undefined && f in cached.values ? cached.values[f] : stored(attributeOf(entity, f), f)
    }
    if (attribute === undefined && cached === undefined && this.rooms.has(record)) this.storedSecured.set(record, { version, at: now, values: fresh })
    if (attribute !== undefined) delete out[attribute]
    return out
  }

  /** loaded records -> their secured fields' values as their row held them (valuesElsewhere) */
  private readonly storedSecured = new Map<DocName, { version: number, at: number, values: Record<string, unknown> }>()

  private committed (e: CommittedEvent): void {
    const field = parseFieldDocName(e.record)
    if (field !== null) this.storedSecured.delete(field.record)
    // A record's new owner decides who reads its secured fields too: their documents check their members.
    if (e.ownerChanged) for (const [n, r] of this.rooms) if (n.startsWith(`${e.record}/`)) r.revokeUnreadable(this.options.security.index)
    this.events.emit('committed', [e])
  }

  /** Called when a peer leaves: unload after the idle delay if nobody is left. */
  released (name: DocName): void {
    const room = this.rooms.get(name)
    if (room === undefined) return
    const uses = Math.max(0, (this.uses.get(name) ?? 0) - 1)
    this.uses.set(name, uses)
    if (room.members.size > 0) return
    // A record that does not exist (its document holds nothing) and that no one uses goes at once: kept
    // for the idle delay, anyone naming records that do not exist made the server hold a room for each.
    if (uses === 0 && !room.busy && room.doc.store.clients.size === 0) { this.cancelUnload(name); this.uses.delete(name); this.drop(name, room); return }
    this.scheduleUnload(name)
    if (uses === 0) this.becameIdle(name, room)
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
      this.uses.delete(name)
      this.drop(name, room)
    }, this.options.idleUnloadMs)
    t.unref()
    this.timers.set(name, t)
  }

  /** Records given back by their last use, in that order (a record used again leaves it: `open`), with
   * their estimated heap then (`Room.weight`). */
  private readonly idle = new Map<DocName, number>()
  private idleBytes = 0

  private notIdle (name: DocName): void {
    const w = this.idle.get(name)
    if (w === undefined) return
    this.idle.delete(name)
    this.idleBytes -= w
  }

  /** `name` became idle: past MAX_IDLE_ROOMS or MAX_IDLE_ROOM_BYTES, those idle longest are unloaded now
   * (one in use again is not idle). */
  private becameIdle (name: DocName, room: Room): void {
    this.notIdle(name)
    const w = room.weight()
    this.idle.set(name, w)
    this.idleBytes += w
    const max = this.options.maxIdleRooms ?? MAX_IDLE_ROOMS
    const maxBytes = this.options.maxIdleBytes ?? MAX_IDLE_ROOM_BYTES
    for (const oldest of this.idle.keys()) {
      if (this.idle.size <= max && this.idleBytes <= maxBytes) return
      this.notIdle(oldest)
      const room = this.rooms.get(oldest)
      if (room === undefined || room.members.size > 0 || room.busy || (this.uses.get(oldest) ?? 0) > 0) continue
      this.cancelUnload(oldest)
      this.uses.delete(oldest)
      this.drop(oldest, room)
    }
  }

  private drop (name: DocName, room: Room): void {
    this.rooms.delete(name)
    this.notIdle(name)
    this.storedSecured.delete(name)
    room.destroy()
  }

  /** Waits for every room to commit what it has queued, then unloads all. */
  async close (): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    await Promise.all([...this.rooms.values()].map(r => r.settled()))
    for (const [name, room] of this.rooms) this.drop(name, room)
    this.uses.clear()
    this.idle.clear()
    this.idleBytes = 0
  }
}
