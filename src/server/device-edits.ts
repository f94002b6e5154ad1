// A device's edits on /device: pushes of local edits and commands through the record pipeline, each
// acknowledged after its commit, and a record's state asked for or sent back. What the room tells the
// device's member goes out as /device frames of that record.

import type { Catalog } from '../docs/catalog-types.ts'
import { parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { isSecured, mayAccess } from '../authz/decide.ts'
import { Reason, type Receipt } from '../protocol/receipts.ts'
import { DeviceMessage, type DeviceFrame } from '../protocol/device-frames.ts'
import { CloseCode, SyncStep, type CloseCodeValue } from '../protocol/codes.ts'
import type { Room, RoomMember, SubmitOutcome } from './room.ts'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'
import type { ChangesFeed } from './storage/feed-port.ts'
import type { HeldRecords } from './held-records.ts'
import type { CommandRunner } from './commands.ts'

/** What edits need of the server (a device session's deps have it). */
export interface EditDeps {
  readonly catalog: Catalog
  readonly security: Security
  readonly rooms: Rooms
  readonly feed: ChangesFeed
  readonly holdings: HeldRecords
  readonly now: () => string
  readonly commands: CommandRunner
}

/** What edits need of the device's session, once it said hello. */
export interface DeviceLink {
  readonly userId: string
  readonly deviceId: string
  /** the privilege version the device last received, if it said */
  readonly delivered: number | undefined
  closed (): boolean
  send (f: DeviceFrame): void
  fail (code: CloseCodeValue, reason: string): void
}

/** Pushes one session remembers as waiting for the device's state of their record (README, "Security"). */
export const MAX_AWAITING_STATE = 4096

/** A push answered at once (refused before its record's pipeline, or malformed). */
const DONE = { settled: Promise.resolve() }

export class DeviceEdits {
  private readonly deps: EditDeps
  private readonly link: DeviceLink

  constructor (deps: EditDeps, link: DeviceLink) {
    this.deps = deps
    this.link = link
  }

  /** The device asks for a record's state (step 1) or sends state the server asked for (step 2). */
  async sync (record: string, step: number, payload: Uint8Array): Promise<void> {
    if (step === SyncStep.step1) {
      const name = this.checkName(record)
      if (name === null) return
      const { feed, rooms } = this.deps
      const room = await rooms.open(name)
      rooms.released(name)
      const payload = await feed.stateSince(name, 0, await feed.head())
      // Checked after the state is read (nothing awaited between the check and the send).
      if (!room.mayOpen(this.deps.security.index, this.link.userId)) { this.link.send({ type: DeviceMessage.evict, record: name, reason: 'no-read-access' }); return }
      this.link.send({ type: DeviceMessage.sync, record: name, step: SyncStep.step2, payload })
      return
    }
    await (await this.push(record, 0, payload)).settled
  }

  private checkName (record: string): DocName | null {
    const field = parseFieldDocName(record)
    const parsed = field ?? parseDocName(record)
    const entity = parsed === null ? undefined : this.deps.catalog.entities.get(parsed.entity)
    if (entity === undefined || (field !== null && !isSecured(this.deps.security.model, field.entity, field.attribute))) {
      this.link.fail(CloseCode.malformed, `unknown record ${JSON.stringify(record).slice(0, 80)}`)
      return null
    }
    return record as DocName
  }

  /**
   * Integrates a device's local edit through the projection; acknowledges after its commit. Resolves once
   * the record's pipeline has taken the edit (in order with what the device sent before it); `settled`
   * resolves once it is committed and answered. The session goes on with its next frames meanwhile, so
   * a device's edits share group commits and what others changed reaches it while its own edits commit.
   */
  async push (record: string, id: number, update: Uint8Array): Promise<{ readonly settled: Promise<void> }> {
    const name = this.checkName(record)
    if (name === null) return DONE
    const { rooms, security, holdings, now } = this.deps
    const room = await rooms.open(name)
    const ix = security.index
    if (!room.mayOpen(ix, this.link.userId)) {
      // Nothing of the record may reach this device: refuse whole, without a compensation.
      const exists = room.ownership() !== undefined
      const receipt: Receipt = {
        principal: this.link.userId, record: name, change: 'update', field: null, attempted: null, kept: null,
        reason: exists ? Reason.noWritePrivilege : Reason.noCreatePrivilege,
        message: exists ? 'no read access to this record' : `no create privilege on ${room.entity.name}`, privilegeVersion: ix.version, at: now()
      }
      this.link.send({ type: DeviceMessage.receipts, json: JSON.stringify([receipt]) })
      // Perhaps held from now on: the next full cycle evicts it again (this frame may be lost) or,
      // should it be back in scope, sends it whole.
      this.link.send({ type: DeviceMessage.evict, record: name, reason: 'no-read-access' })
      holdings.unsure(this.link.deviceId, [name])
      rooms.released(name)
      if (id > 0) this.link.send({ type: DeviceMessage.ack, record: name, id })
      return DONE
    }
    const created = room.ownership() === undefined
    const member = this.memberFor(name)
    room.join(member)
    let pushing = this.pushing.get(room)
    if (pushing === undefined) { pushing = new Set(); this.pushing.set(room, pushing) }
    pushing.add(member)
    const submitted = room.submit(member, update).finally(() => {
      room.leave(member)
      const p = this.pushing.get(room)
      if (p?.delete(member) === true && p.size === 0) this.pushing.delete(room)
      rooms.released(name)
    })
    return { settled: submitted.then(outcome => this.answer(name, id, created, outcome)) }
  }

  /** the members of pushes handed to their records' pipelines and not settled yet, by room */
  private readonly pushing = new Map<Room, Set<RoomMember>>()

  /**
   * The session closed: its pushes still waiting in their records' pipelines go unprocessed (none was
   * acknowledged: the device sends them again). Kept, they outlived the session's bound on what it may have
   * waiting, and a device reconnecting in a loop piled up MAX_WAITING_BYTES more in the pipelines each time.
   */
  abandon (): void {
    const pushing = [...this.pushing]
    this.pushing.clear()
    for (const [room, members] of pushing) room.withdraw(members)
  }

  /** A push decided: acknowledged (or kept waiting for the device's state), what the device holds noted. */
  private answer (name: DocName, id: number, created: boolean, outcome: SubmitOutcome): void {
    // An update the server could not integrate (it asked for the device's state, or the record failed)
    // stays pending on the device: no ack, so it is sent again — until the state the device sends back
    // (which holds it) has been decided: then it is acknowledged with that.
    if (outcome.kind === 'failed' || outcome.kind === 'dropped' || this.link.closed()) return
    if (outcome.kind === 'needs-state') {
      if (id > 0) this.awaitState(name, id)
      return
    }
    this.pushed([{ name, created }])
    const answered = id === 0 ? [...this.awaitingState.get(name) ?? []] : [id]
    if (id === 0 && this.awaitingState.delete(name)) this.awaiting -= answered.length
    for (const a of answered) this.link.send({ type: DeviceMessage.ack, record: name, id: a })
  }

  /**
   * What a device holds after its edits were integrated. A record it created, or one the server counts
   * as held, it holds whole. Any other (an evict crossed the edit: the device drops the record on
   * receiving it; or a cycle sending the record whole was cut) it may hold in part or not at all: were it
   * counted as held, the next cycle would send only what changed since the cursor, which a device
   * without the record's earlier state can never integrate. So the next full cycle sends it whole or
   * evicts it.
   */
  private pushed (records: readonly { name: DocName, created: boolean }[]): void {
    const { holdings } = this.deps
    const device = this.link.deviceId
    const whole = records.filter(r => r.created || holdings.holds(device, r.name))
    holdings.hold(device, whole.map(r => r.name))
    holdings.mayHold(device, records.filter(r => !whole.includes(r)).map(r => r.name))
  }

  /** Pushes that waited for the device's state of their record (their dependencies were not integrated). */
  private readonly awaitingState = new Map<DocName, Set<number>>()
  /** how many ids awaitingState holds, over every record */
  private awaiting = 0

  /** Remembers a push to acknowledge with the device's state of its record, up to MAX_AWAITING_STATE ids
   * per session: one past it goes unacknowledged now and the device sends it again at its next
   * connection (kept all, a device sending such pushes under new ids grew this without bound). */
  private awaitState (name: DocName, id: number): void {
    let ids = this.awaitingState.get(name)
    if (ids?.has(id) === true || this.awaiting >= MAX_AWAITING_STATE) return
    if (ids === undefined) { ids = new Set(); this.awaitingState.set(name, ids) }
    ids.add(id)
    this.awaiting++
  }

  /** This session as a member of one record's room, for one push or command part: what the room tells
   * it goes out as /device frames of that record. */
  private memberFor (name: DocName): RoomMember {
    // Once evicted, nothing more of the record goes to the device from this member.
    let evicted = false
    return {
      principal: this.link.userId,
      delivered: this.link.delivered,
      device: this.link.deviceId,
      update: (payload, why) => { if (!evicted) this.link.send({ type: DeviceMessage.sync, record: name, step: why === 'reply' ? SyncStep.step2 : SyncStep.update, payload }) },
      // The server lacks what the update depends on: the device answers with its state.
      needState: payload => { if (!evicted) this.link.send({ type: DeviceMessage.sync, record: name, step: SyncStep.step1, payload }) },
      receipts: list => this.link.send({ type: DeviceMessage.receipts, json: JSON.stringify(list) }),
      presence: () => {}, // a device does not show presence
      // Read access gone: the record leaves the device. Anything else (malformed, storage failed): the
      // session ends and the device retries; its edit stays pending.
      close: (code, reason) => {
        if (code !== CloseCode.readRevoked) { this.link.fail(code, reason); return }
        evicted = true
        this.link.send({ type: DeviceMessage.evict, record: name, reason: 'no-read-access' })
      }
    }
  }

  /** Whether the privileges the device last received let its user create `entity` (they no longer do). */
  private createRevoked (entity: string): boolean {
    const { security } = this.deps
    const delivered = this.link.delivered === undefined ? undefined : security.at(this.link.delivered)
    return delivered !== undefined && delivered.version !== security.index.version && mayAccess(delivered, this.link.userId, 'create', entity).allowed
  }

  /** A command over several records: accepted or rejected as a whole, then every part acknowledged. */
  async command (f: Extract<DeviceFrame, { type: typeof DeviceMessage.command }>): Promise<void> {
    const target = this.checkName(f.target)
    if (target === null) return
    const names: DocName[] = []
    for (const p of f.parts) { const n = this.checkName(p.record); if (n === null) return; names.push(n) }
    if (new Set(names).size !== names.length) { this.link.fail(CloseCode.malformed, 'a command names a record twice'); return }
    const { rooms, security, holdings, now } = this.deps
    const ix = security.index
    const joined: { name: DocName, room: ReturnType<Rooms['get']>, member: RoomMember, update: Uint8Array, created: boolean }[] = []
    const unreadable: Receipt[] = []
    let aborted = false
    try {
      for (const [i, p] of f.parts.entries()) {
        const name = names[i]
        const room = await rooms.open(name)
        // A record the user may not open (as on /sync and a push: an existing one it may not read, one that
        // does not exist without the create privilege on its entity, a secured field's document of a record
        // that does not exist) is refused without touching it: a rejected command's parts are integrated and
        // reverted, which would keep placeholders and receipts under any name the device makes up.
        const created = room.ownership() === undefined
        if (room.mayOpen(ix, this.link.userId)) {
          const member = this.memberFor(name)
          room.join(member)
          joined.push({ name, room, member, update: p.update, created })
          continue
        }
        rooms.released(name)
        const why = !created
          ? { reason: Reason.noWritePrivilege, message: `no read access to ${name}` }
          : parseFieldDocName(name) !== null
            ? { reason: Reason.invalidValue, message: `${name} is the field of a record that does not exist` }
            : { reason: this.createRevoked(room.entity.name) ? Reason.privilegeRevoked : Reason.noCreatePrivilege, message: `no create privilege on ${room.entity.name}` }
        unreadable.push({
          principal: this.link.userId, record: name, change: 'command', field: null, attempted: { command: f.command }, kept: null,
          reason: why.reason, message: `${f.command} of ${target} rejected: ${why.message}`, privilegeVersion: ix.version, at: now()
        })
      }
      const refused = unreadable.length === 0 ? undefined : { accepted: false as const, record: unreadable[0].record, reason: unreadable[0].reason, message: unreadable[0].message }
      if (joined.length > 0) {
        const outcome = await this.deps.commands.run({ command: f.command, target, refused, parts: joined.map(j => ({ record: j.name, update: j.update, member: j.member })) })
        if (outcome.kind === 'aborted') { aborted = true; console.error(`device ${this.link.deviceId}: ${f.command} of ${target} not decided (${outcome.why}); the device sends it again`) }
      }
    } finally {
      for (const j of joined) { j.room.leave(j.member); rooms.released(j.name) }
    }
    // Not decided: nothing was integrated, so nothing is acknowledged and the device sends it again.
    if (aborted || this.link.closed() || joined.some(j => j.room.isBroken)) return
    if (unreadable.length > 0) {
      this.link.send({ type: DeviceMessage.receipts, json: JSON.stringify(unreadable) })
      for (const r of unreadable) this.link.send({ type: DeviceMessage.evict, record: r.record, reason: 'no-read-access' })
      holdings.unsure(this.link.deviceId, unreadable.map(r => r.record as DocName))
    }
    this.pushed(joined)
    for (const p of f.parts) if (p.id > 0) this.link.send({ type: DeviceMessage.ack, record: p.record, id: p.id })
  }
}
