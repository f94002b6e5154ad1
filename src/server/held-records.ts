// What the open devices hold, in memory: the holdings port written through, with a copy of each open
// device's records kept here, and the reverse index from a record to the open devices that hold it (or
// may), so a commit reaches the sessions holding its record without reading anything per device. Writes
// that change nothing are not made; the cursor of a cycle that changed nothing else (a live cycle) is
// written within a second, with the others of that second, in one commit.

import type { DocName } from '../ids.ts'
import type { DeviceHoldings } from './storage/holdings-port.ts'

/** How long a cursor that alone changed may wait to be written (ms). */
const CURSOR_WRITE_MS = 1000

interface OpenDevice {
  /** sessions of the device attached (an older one may not have closed yet) */
  sessions: number
  /** record -> confirmed (held for sure) or not (perhaps held) */
  readonly docs: Map<DocName, boolean>
}

export class HeldRecords implements DeviceHoldings {
  private readonly port: DeviceHoldings
  private readonly devices = new Map<string, OpenDevice>()
  private readonly holders = new Map<DocName, Set<string>>()
  /** cursors of cycles that changed nothing else, not written yet */
  private readonly cursors = new Map<string, number>()
  private flushQueued = false

  constructor (port: DeviceHoldings) {
    this.port = port
  }

  /**
   * Writes the cursors waiting to be written, in one commit (any read or other write of the port writes
   * them first, so the port always answers what was written here). Should the process end before, or the
   * write fail, those devices' next hellos find other cursors than theirs, and they are sent their scopes
   * whole: nothing is lost but time.
   */
  flush (): void {
    if (this.cursors.size === 0) return
    const cursors = [...this.cursors]
    this.cursors.clear()
    try {
      this.port.batch(() => { for (const [device, cursor] of cursors) this.port.finishCycle(device, [], [], cursor, false) })
    } catch (e) {
      console.error(`device cursors not stored (those devices will be sent their scope whole): ${(e as Error).message}`)
    }
  }

  private deferCursor (device: string, cursor: number): void {
    this.cursors.set(device, cursor)
    if (this.flushQueued) return
    this.flushQueued = true
    setTimeout(() => { this.flushQueued = false; this.flush() }, CURSOR_WRITE_MS).unref()
  }

  /** Keeps the device's holdings in memory while a session of it is open (each attach needs a detach). */
  attach (device: string): void {
    const open = this.devices.get(device)
    if (open !== undefined) { open.sessions++; return }
    const docs = new Map<DocName, boolean>()
    this.flush()
    for (const d of this.port.unconfirmed(device)) docs.set(d, false)
    for (const d of this.port.held(device)) docs.set(d, true)
    this.devices.set(device, { sessions: 1, docs })
    for (const d of docs.keys()) this.addHolder(d, device)
  }

  detach (device: string): void {
    const open = this.devices.get(device)
    if (open === undefined || --open.sessions > 0) return
    for (const d of open.docs.keys()) this.removeHolder(d, device)
    this.devices.delete(device)
  }

  /** The open devices that hold `doc` or may hold it. */
  holdersOf (doc: DocName): readonly string[] {
    const s = this.holders.get(doc)
    return s === undefined ? [] : [...s]
  }

  /** Whether the device holds `doc` or may hold it. */
  tracks (device: string, doc: DocName): boolean {
    const open = this.devices.get(device)
    return open === undefined ? this.through(() => this.port.holds(device, doc) || this.port.unconfirmed(device).has(doc)) : open.docs.has(doc)
  }

  private addHolder (doc: DocName, device: string): void {
    let s = this.holders.get(doc)
    if (s === undefined) { s = new Set(); this.holders.set(doc, s) }
    s.add(device)
  }

  private removeHolder (doc: DocName, device: string): void {
    const s = this.holders.get(doc)
    if (s === undefined) return
    s.delete(device)
    if (s.size === 0) this.holders.delete(doc)
  }

  private set (open: OpenDevice, device: string, doc: DocName, confirmed: boolean): void {
    if (!open.docs.has(doc)) this.addHolder(doc, device)
    open.docs.set(doc, confirmed)
  }

  private remove (open: OpenDevice, device: string, doc: DocName): void {
    if (open.docs.delete(doc)) this.removeHolder(doc, device)
  }

  /** Runs `f` over the port, after the writes waiting (so the port sees everything in order). */
  private through<T> (f: () => T): T {
    this.flush()
    return f()
  }

  claimDevice (device: string, principal: string): boolean { return this.through(() => this.port.claimDevice(device, principal)) }
  /** (A device open here is never forgotten: its holdings in memory would outlive their rows.) */
  retireDevices (principal: string, keep: number, except: ReadonlySet<string>): string[] {
    return this.through(() => this.port.retireDevices(principal, keep, new Set([...except, ...[...this.devices.keys()]])))
  }
  deviceCursor (device: string): number { return this.through(() => this.port.deviceCursor(device)) }
  needsScope (device: string): boolean { return this.through(() => this.port.needsScope(device)) }
  offerMark (device: string): number | null { return this.through(() => this.port.offerMark(device)) }
  setOfferMark (device: string, mark: number): void { this.through(() => this.port.setOfferMark(device, mark)) }
  batch (f: () => void): void { this.through(() => this.port.batch(f)) }

  held (device: string): Set<DocName> {
    const open = this.devices.get(device)
    if (open === undefined) return this.through(() => this.port.held(device))
    const out = new Set<DocName>()
    for (const [d, confirmed] of open.docs) if (confirmed) out.add(d)
    return out
  }

  holds (device: string, doc: DocName): boolean {
    const open = this.devices.get(device)
    return open === undefined ? this.through(() => this.port.holds(device, doc)) : open.docs.get(doc) === true
  }

  unconfirmed (device: string): Set<DocName> {
    const open = this.devices.get(device)
    if (open === undefined) return this.through(() => this.port.unconfirmed(device))
    const out = new Set<DocName>()
    for (const [d, confirmed] of open.docs) if (!confirmed) out.add(d)
    return out
  }

  hold (device: string, docs: Iterable<DocName>): void {
    const open = this.devices.get(device)
    const list = open === undefined ? [...docs] : [...docs].filter(d => open.docs.get(d) !== true)
    if (list.length === 0) return
    this.through(() => this.port.hold(device, list))
    if (open !== undefined) for (const d of list) this.set(open, device, d, true)
  }

  mayHold (device: string, docs: Iterable<DocName>): void {
    const open = this.devices.get(device)
    const list = open === undefined ? [...docs] : [...docs].filter(d => !open.docs.has(d))
    if (list.length === 0) return
    this.through(() => this.port.mayHold(device, list))
    if (open !== undefined) for (const d of list) this.set(open, device, d, false)
  }

  unsure (device: string, docs: Iterable<DocName>): void {
    const open = this.devices.get(device)
    const list = open === undefined ? [...docs] : [...docs].filter(d => open.docs.get(d) === true)
    if (list.length === 0) return
    this.through(() => this.port.unsure(device, list))
    if (open !== undefined) for (const d of list) open.docs.set(d, false)
  }

  finishCycle (device: string, added: Iterable<DocName>, removed: Iterable<DocName>, cursor: number, sentScope: boolean): void {
    const open = this.devices.get(device)
    const a = open === undefined ? [...added] : [...added].filter(d => open.docs.get(d) !== true)
    const adding = new Set(a)
    const r = open === undefined ? [...removed] : [...removed].filter(d => open.docs.has(d) || adding.has(d))
    // Nothing but the cursor changed: written with the other cursors of this turn.
    if (open !== undefined && a.length === 0 && r.length === 0 && !sentScope) { this.deferCursor(device, cursor); return }
    this.cursors.delete(device)
    this.through(() => this.port.finishCycle(device, a, r, cursor, sentScope))
    if (open === undefined) return
    for (const d of a) this.set(open, device, d, true)
    for (const d of r) this.remove(open, device, d)
  }

  forget (device: string): void {
    this.through(() => this.port.forget(device))
    const open = this.devices.get(device)
    if (open !== undefined) for (const d of [...open.docs.keys()]) this.remove(open, device, d)
  }
}
