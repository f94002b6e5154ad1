// One device connection on /device: frames in and out, hello, the order its work runs in, and evictions
// for lost read access. Its sync cycles over the changes feed (what changed since the device's cursor,
// what entered or left its scope) are device-cycle.ts; its pushes of local edits and commands go through
// the projection in device-edits.ts.

import * as encoding from 'lib0/encoding'
import type { Catalog } from '../docs/catalog-types.ts'
import { fieldDocName, parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { fieldPermission, mayAccess, type ModelIndex } from '../authz/decide.ts'
import { rowOwnership, type RecordOwnership } from '../docs/ownership.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, decodeDeviceFrame, encodeDeviceFrame, holdingsDigest, writeDeviceFrame, type DeviceFrame } from '../protocol/device-frames.ts'
import { CloseCode, closeCodeOf, type CloseCodeValue } from '../protocol/codes.ts'
import { MalformedMessage } from '../errors.ts'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'
import type { ChangesFeed } from './storage/feed-port.ts'
import type { HeldRecords } from './held-records.ts'
import type { ProjectionReader } from './storage/projection-port.ts'
import type { CommandRunner } from './commands.ts'
import { pace, slicer } from './pacing.ts'
import { DeviceEdits, type EditDeps } from './device-edits.ts'
import { cycle, NOTHING, type CycleDeps, type CycleSession } from './device-cycle.ts'

/** (EditDeps: the catalog, security, rooms, feed, holdings — the port with what open devices hold in
 * memory —, the clock and the runner of multi-record commands; CycleDeps: metadata, receipts, the scope
 * rows and the largest attachment.) */
export interface DeviceDeps extends EditDeps, CycleDeps {
  /** the open session of each device id: a device has one session at a time */
  readonly sessions: Map<string, DeviceSession>
  /** projected rows (a record's ownership when it is not loaded) */
  readonly projection: ProjectionReader
  /** the devices one user keeps (MAX_DEVICES_PER_USER) */
  readonly maxDevicesPerUser: number
}

const NO_DEVICES: ReadonlySet<string> = new Set()

/** Frames one device may have waiting for its session (README, "Security"). */
export const MAX_WAITING_FRAMES = 4096
/** ... and their bytes: a frame may be MAX_FRAME_BYTES, so the count alone let one device hold 4 GiB. */
export const MAX_WAITING_BYTES = 16 * 1024 * 1024

/** The members its cycles (functions of the session, device-cycle.ts) read and move are public: CycleSession. */
export class DeviceSession implements CycleSession {
  readonly deps: DeviceDeps
  readonly userId: string
  private readonly sendBytes: (b: Uint8Array) => void
  private readonly closeSocket: (code: CloseCodeValue, reason: string) => void
  /** while the socket's send buffer is filling up: resolves once it has drained */
  readonly drained: () => Promise<void> | undefined
  deviceId: string | null = null
  cursor = 0
  metadataVersion = 0
  metadataDigest = 0
  /** pushes, commands and record state, once the device said hello */
  private edits: DeviceEdits | null = null
  /** everything the session does runs in order on this chain */
  private chain: Promise<void> = Promise.resolve()
  private fullCycleQueued = false
  private liveQueued = false
  closed = false
  /** records evicted for lost read access since the last full cycle: not one more byte of them goes out */
  readonly revoked = new Set<DocName>()
  /** bumped when privileges change: a cycle under way stops (a full cycle follows) */
  generation = 0
  /** The records a cycle under way is sending (a change of one is checked for read access at once). */
  sending: ReadonlySet<DocName> = NOTHING

  constructor (deps: DeviceDeps, userId: string, send: (b: Uint8Array) => void, close: (code: CloseCodeValue, reason: string) => void, drained: () => Promise<void> | undefined = () => undefined) {
    this.deps = deps
    this.userId = userId
    this.sendBytes = send
    this.closeSocket = close
    this.drained = drained
  }

  send (f: DeviceFrame): number {
    this.flushBatch()
    const bytes = encodeDeviceFrame(f)
    if (!this.closed) this.sendBytes(bytes)
    return bytes.length
  }

  /** Record frames of a cycle go out several to a websocket message (fewer, larger messages). */
  private batch: encoding.Encoder | null = null

  sendBatched (f: DeviceFrame): number {
    if (this.batch === null) this.batch = encoding.createEncoder()
    const before = encoding.length(this.batch)
    writeDeviceFrame(this.batch, f)
    const size = encoding.length(this.batch) - before
    if (encoding.length(this.batch) > 64 * 1024) this.flushBatch()
    return size
  }

  private flushBatch (): void {
    if (this.batch === null) return
    const bytes = encoding.toUint8Array(this.batch)
    this.batch = null
    if (!this.closed) this.sendBytes(bytes)
  }

  /** Runs `f` after everything scheduled before it (named so that the session is no thenable: `await session` must not call it). */
  private schedule (f: () => Promise<void> | void, bytes = 0): void {
    // What a device may have waiting is bounded: one that sends faster than its session works is closed.
    this.waitingBytes += bytes
    if (++this.waiting > MAX_WAITING_FRAMES || this.waitingBytes > MAX_WAITING_BYTES) { this.fail(CloseCode.rateLimited, 'too many frames waiting'); return }
    this.chain = this.chain.then(() => this.closed ? undefined : f()).catch(e => {
      console.error(`device ${this.deviceId ?? '?'}: ${(e as Error).message}`)
      this.fail(CloseCode.internalError, 'device session failed, reconnect')
    }).finally(() => { this.waiting--; this.waitingBytes -= bytes })
  }

  /** frames scheduled on the chain and not done yet, and pushes not settled yet; the bytes of those the device sent */
  private waiting = 0
  private waitingBytes = 0
  /** pushes taken by their records' pipelines and not committed and answered yet */
  private readonly inFlight = new Set<Promise<void>>()

  /** Keeps a push's commit and answer counted (as a frame waiting, with its bytes) until it settles; a
   * failure ends the session as on the chain. */
  private track (settled: Promise<void>, bytes: number): void {
    this.waiting++
    this.waitingBytes += bytes
    const p: Promise<void> = settled.catch(e => {
      console.error(`device ${this.deviceId ?? '?'}: ${(e as Error).message}`)
      this.fail(CloseCode.internalError, 'device session failed, reconnect')
    }).finally(() => { this.waiting--; this.waitingBytes -= bytes; this.inFlight.delete(p) })
    this.inFlight.add(p)
  }

  /** Resolves once every push taken so far has settled: a command, a record's state and a cycle the
   * device asked for ('done' answers the pushes sent before it) come after them, as sent. */
  private async pushesSettled (): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
  }
  /** the device's holdings are kept in memory while this session is open */
  private attached = false
  /** a hello arrived (it is handled on the chain, in order with what follows it) */
  private helloSeen = false

  private fail (code: CloseCodeValue, reason: string): void {
    this.closeSocket(code, reason.slice(0, 120))
    this.closed = true
    // At once, not when the close handshake ends (a client may never answer it): a read-only device
    // closed past its refusal burst left a thousand pushes for its record's pipeline to refuse first.
    this.edits?.abandon()
  }

  close (): void {
    this.closed = true
    // What its pushes left in their records' pipelines goes with it (counted here, kept there).
    this.edits?.abandon()
    if (this.attached) { this.attached = false; this.deps.holdings.detach(this.deviceId!) }
    if (this.deviceId !== null && this.deps.sessions.get(this.deviceId) === this) this.deps.sessions.delete(this.deviceId)
  }

  /** Another session of the same device took over. */
  kick (): void {
    this.fail(CloseCode.goingAway, 'replaced by a newer connection of this device')
  }

  /** Bad input closes the socket with 4400; nothing else happens. */
  receive (bytes: Uint8Array): void {
    let f: DeviceFrame
    try {
      f = decodeDeviceFrame(bytes)
    } catch (e) {
      if (!(e instanceof MalformedMessage)) throw e // a bug, not the device's input
      this.fail(closeCodeOf(e), `malformed device message: ${e.message}`)
      return
    }
    if (!this.helloSeen && f.type !== DeviceMessage.hello) { this.fail(CloseCode.malformed, 'the first message must be hello'); return }
    switch (f.type) {
      case DeviceMessage.hello: {
        if (this.helloSeen) { this.fail(CloseCode.malformed, 'hello twice'); return }
        if (f.version !== DEVICE_PROTOCOL_VERSION) { this.fail(CloseCode.malformed, `protocol version ${f.version} is not ${DEVICE_PROTOCOL_VERSION}`); return }
        if (!/^[A-Za-z0-9_-]{8,64}$/.test(f.deviceId)) { this.fail(CloseCode.malformed, 'device id must be 8-64 of [A-Za-z0-9_-]'); return }
        this.helloSeen = true
        // What a hello reads and writes (the device's owner, what it holds) waits for a slice of the
        // event loop too: a morning's devices say hello together.
        this.schedule(async () => { await pace(); this.hello(f) })
        return
      }
      // In order after the pushes sent before it, so its 'done' answers them too.
      case DeviceMessage.syncNow: {
        const { request, count, digest, receiptSeq } = f
        this.schedule(async () => {
          await this.pushesSettled()
          // The device says what it holds; if that is not what the server recorded, start over.
          const held = this.deps.holdings.held(this.deviceId!)
          if (held.size !== count || holdingsDigest(held) !== digest) this.resetHeld()
          return cycle(this, true, request, receiptSeq)
        })
        return
      }
      // A push waits on the chain until its record's pipeline took it, not for its commit (inFlight).
      case DeviceMessage.push: this.schedule(async () => { this.track((await this.edits!.push(f.record, f.id, f.update)).settled, bytes.length) }, bytes.length); return
      case DeviceMessage.command: this.schedule(async () => { await this.pushesSettled(); await this.edits!.command(f) }, bytes.length); return
      case DeviceMessage.sync: this.schedule(async () => { await this.pushesSettled(); await this.edits!.sync(f.record, f.step, f.payload) }, bytes.length); return
      default: this.fail(CloseCode.malformed, `a device does not send message type ${f.type}`)
    }
  }

  /** The device's hello, on the session's chain: its owner checked, its holdings in memory, its cursor compared. */
  private hello (f: Extract<DeviceFrame, { type: typeof DeviceMessage.hello }>): void {
    if (!this.deps.holdings.claimDevice(f.deviceId, this.userId)) { this.fail(CloseCode.malformed, 'this device id belongs to another user'); return }
    // A device has one session: an older one (its socket not closed yet) stops before it could
    // record as delivered what the device no longer listens to.
    this.deps.sessions.get(f.deviceId)?.kick()
    this.deps.sessions.set(f.deviceId, this)
    const deviceId = this.deviceId = f.deviceId
    this.deps.holdings.attach(deviceId)
    this.attached = true
    // Each device id keeps a row and what it holds: a user keeps their newest devices and any connected
    // (a phone replaced or reinstalled never comes back; one that does is served its scope whole again).
    // Refusing the new device instead would lock out a user whose old ids are gone for good.
    this.deps.holdings.retireDevices(this.userId, this.deps.maxDevicesPerUser, NO_DEVICES)
    this.cursor = f.cursor
    this.metadataVersion = f.privilegeVersion
    this.metadataDigest = f.metadataDigest
    const delivered = f.privilegeVersion > 0 ? f.privilegeVersion : undefined
    this.edits = new DeviceEdits(this.deps, {
      userId: this.userId, deviceId, delivered, closed: () => this.closed, send: frame => { this.send(frame) }, fail: (code, reason) => this.fail(code, reason)
    })
    // A device that did not store the last cursor may hold anything: resend its scope whole.
    if (f.cursor !== this.deps.holdings.deviceCursor(deviceId)) this.resetHeld()
  }

  private resetHeld (): void {
    this.deps.holdings.forget(this.deviceId!)
    this.cursor = 0
  }

  /** Schedules a full cycle (scope recomputed) of the server's own (privileges changed), coalescing. */
  fullCycle (): void {
    if (this.fullCycleQueued || this.deviceId === null) return
    this.fullCycleQueued = true
    // (After the pushes before it: an edit the server commits must not look evicted with it unsynced.)
    this.schedule(async () => { await this.pushesSettled(); this.fullCycleQueued = false; await cycle(this, true, 0, null) })
  }

  /**
   * The owner of a record as a decision needs it: from its room when loaded, else from its row (the
   * scope index's, once current, for the entities it keeps; else the projection's).
   */
  ownershipOf (name: DocName, fromIndex = false): RecordOwnership | undefined {
    const field = parseFieldDocName(name)
    if (field !== null) return this.ownershipOf(field.record, fromIndex)
    const { rooms, scopeRows } = this.deps
    const room = rooms.find(name)
    if (room !== undefined) return room.ownership()
    const parsed = parseDocName(name)
    if (parsed === null) return undefined
    const row = fromIndex && scopeRows.covers(parsed.entity) ? scopeRows.row(name) : this.deps.projection.row(parsed.entity, parsed.id)
    return row === undefined ? undefined : rowOwnership(name, row)
  }

  /** Evicts, now and not at the next cycle, those of `names` (records the device may hold) its user may no longer read. */
  revokeUnreadable (ix: ModelIndex, names: Iterable<DocName>, fromIndex = false): void {
    if (this.deviceId === null || this.closed) return
    const gone: DocName[] = []
    for (const name of names) {
      if (this.revoked.has(name)) continue
      const field = parseFieldDocName(name)
      const entity = field?.entity ?? parseDocName(name)?.entity ?? ''
      const o = this.ownershipOf(name, fromIndex)
      if (o !== undefined && mayAccess(ix, this.userId, 'read', entity, o).allowed && (field === null || fieldPermission(ix, this.userId, entity, field.attribute).read)) continue
      if (o === undefined && !this.deps.rooms.has(name)) continue // not created yet: nothing of it is readable anyway
      this.revoked.add(name)
      gone.push(name)
      this.send({ type: DeviceMessage.evict, record: name, reason: 'no-read-access' })
    }
    if (gone.length > 0) this.deps.holdings.unsure(this.deviceId, gone)
  }

  /**
   * Privileges changed: a cycle under way stops, what the device may hold and its user may no longer
   * read is evicted (of `names` only, when only those can have become unreadable), and a full cycle
   * follows. Checking everything the device holds is done in slices, with owners from memory; until
   * it is done every cycle checks each record it sends.
   */
  privilegesChanged (ix: ModelIndex, names?: readonly DocName[]): void {
    if (this.deviceId === null || this.closed) return
    this.generation++
    const device = this.deviceId
    if (names !== undefined) this.revokeUnreadable(ix, names.filter(n => this.deps.holdings.tracks(device, n)))
    else this.sweep()
    this.fullCycle()
  }

  /** Sweeps under way (each checks everything the device held when it began). */
  sweeping = 0

  private sweep (): void {
    const { holdings, feed, scopeRows, security } = this.deps
    const device = this.deviceId!
    const names = [...holdings.held(device), ...holdings.unconfirmed(device)]
    this.sweeping++
    const run = async (): Promise<void> => {
      // Every device's sweep starts at once: each takes its slices of the event loop in turn.
      await pace()
      // Owners from the scope index, made current through the change first.
      await scopeRows.current(await feed.head())
      const slice = slicer()
      for (let i = 0; i < names.length && !this.closed; i += 200) {
        this.revokeUnreadable(security.index, names.slice(i, i + 200), true)
        if (slice.due()) await slice.pace()
      }
    }
    run().catch(e => {
      console.error(`device ${device}: ${(e as Error).message}`)
      this.fail(CloseCode.internalError, 'device session failed, reconnect')
    }).finally(() => { this.sweeping-- })
  }

  /** A held record changed: evict it at once if its user lost read access, else send what changed. */
  recordChanged (name: DocName): void {
    if (this.deviceId === null) return
    const { holdings } = this.deps
    if (!holdings.tracks(this.deviceId, name) && !this.sending.has(name)) return
    const ix = this.deps.security.index
    this.revokeUnreadable(ix, [name])
    // A record out of reach (a reassignment) takes its secured fields' documents with it, held or being sent.
    if (this.revoked.has(name) && parseFieldDocName(name) === null) {
      const device = this.deviceId
      const entity = name.slice(0, name.indexOf('/'))
      const fields = ix.model.securedFields.filter(f => f.startsWith(`${entity}.`)).map(f => fieldDocName(name, f.slice(entity.length + 1)))
      this.revokeUnreadable(ix, fields.filter(n => holdings.tracks(device, n) || this.sending.has(n)))
    }
    if (this.revoked.has(name) || this.liveQueued || this.fullCycleQueued) return
    if (!holdings.holds(this.deviceId, name)) return
    this.liveQueued = true
    this.schedule(async () => { this.liveQueued = false; await cycle(this, false, 0, null) })
  }
}
