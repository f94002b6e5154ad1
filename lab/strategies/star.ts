// A server and devices exchanging JSON units (a piece of a record and the clock it was written at), the
// higher clock winning each unit: what last-writer-wins sync layers do. The record-level and the
// field-level strategies differ only in what a unit is and which clock they write.

import { compareHlc, type Hlc } from '../../src/docs/hlc.ts'
import { insertionIndex, jsonBytes, tokenAt, type LabRun, type LabWorld, type RecordSnapshot, type Report, type Snapshot } from '../strategy.ts'

export interface Unit { readonly value: unknown, readonly clock: Hlc }
/** record id -> unit key -> unit */
type Units = Map<string, Map<string, Unit>>

/** How a last-writer-wins strategy reads and writes a record through its units. */
export interface UnitModel {
  /** the units of a record as created (clock zero) */
  initial (fields: Readonly<Record<string, string>>, texts: Readonly<Record<string, string>>): Map<string, Unit>
  read (units: ReadonlyMap<string, Unit>): RecordSnapshot
  /** The units an edit writes, given the record as the device has it; null: the record is deleted there. */
  write (units: ReadonlyMap<string, Unit>, edit: Edit, clock: Hlc): Map<string, Unit> | null
  /** the clock of a device's next write, at wall time `wall`, after `last` (what it issued or received) */
  next (last: Hlc, wall: number, writer: number): Hlc
  /** what a device's clock becomes after receiving `clock` */
  received (last: Hlc, clock: Hlc): Hlc
}

export type Edit =
  | { kind: 'set', field: string, value: string }
  | { kind: 'text', field: string, text: string }
  | { kind: 'delete' }

interface Device { readonly id: string, readonly index: number, readonly skewMs: number, readonly units: Units, readonly pending: Units, online: boolean, seenRev: number, last: Hlc }

const wins = (a: Unit, b: Unit | undefined): boolean => b === undefined || compareHlc(a.clock, b.clock) > 0

const copyUnits = (u: Units): Units => new Map([...u].map(([r, m]) => [r, new Map(m)]))

export const starRun = (world: LabWorld, model: UnitModel): LabRun => {
  const server: Units = new Map(world.records.map(r => [r.id, model.initial(r.fields, r.texts)]))
  /** the server's revision of each unit (`record unit` -> rev) */
  const revs = new Map<string, number>()
  let rev = 0
  let bytes = 0
  const devices = new Map<string, Device>(world.devices.map((d, index) => [d.id, {
    id: d.id, index: index + 1, skewMs: d.skewMs, units: copyUnits(server), pending: new Map(), online: false, seenRev: 0, last: { wall: 0, counter: 0, writer: index + 1 }
  }]))
  const dev = (id: string): Device => { const d = devices.get(id); if (d === undefined) throw new Error(`no device ${id}`); return d }

  /** Merges units into a replica; returns those that won. */
  const merge = (into: Units, units: Units): Units => {
    const won: Units = new Map()
    for (const [r, m] of units) {
      const have = into.get(r) ?? new Map<string, Unit>()
      into.set(r, have)
      for (const [k, u] of m) {
        if (!wins(u, have.get(k))) continue
        have.set(k, u)
        if (!won.has(r)) won.set(r, new Map())
        won.get(r)!.set(k, u)
      }
    }
    return won
  }
  const toWire = (u: Units): unknown => Object.fromEntries([...u].map(([r, m]) => [r, Object.fromEntries(m)]))
  const send = (u: Units): void => { if (u.size > 0) bytes += jsonBytes(toWire(u)) }

  const receive = (d: Device, units: Units): void => {
    send(units)
    merge(d.units, units)
    for (const m of units.values()) for (const u of m.values()) d.last = model.received(d.last, u.clock)
  }

  /** The server takes a device's pending units, and passes on what won. */
  const upload = (d: Device): void => {
    if (d.pending.size === 0) return
    const pending = new Map(d.pending)
    d.pending.clear()
    send(pending)
    const won = merge(server, pending)
    for (const [r, m] of won) for (const k of m.keys()) revs.set(`${r} ${k}`, ++rev)
    // What lost comes back to its sender as the server has it.
    const back: Units = new Map()
    for (const [r, m] of pending) for (const k of m.keys()) if (!won.get(r)?.has(k)) { if (!back.has(r)) back.set(r, new Map()); back.get(r)!.set(k, server.get(r)!.get(k)!) }
    if (back.size > 0) receive(d, back)
    for (const o of devices.values()) if (o.online && o !== d && won.size > 0) { receive(o, won); o.seenRev = rev }
    // (An online device has had everything else as it came: it is current.)
    d.seenRev = rev
  }

  const edit = async (device: string, record: string, e: Edit): Promise<boolean> => {
    const d = dev(device)
    const units = d.units.get(record)!
    d.last = model.next(d.last, world.serverNow() + d.skewMs, d.index)
    const written = model.write(units, e, d.last)
    if (written === null) return false
    for (const [k, u] of written) units.set(k, u)
    if (!d.pending.has(record)) d.pending.set(record, new Map())
    for (const [k, u] of written) d.pending.get(record)!.set(k, u)
    if (d.online) upload(d)
    return true
  }
  const textOf = (device: string, record: string, field: string): string => model.read(dev(device).units.get(record)!).texts[field] ?? ''

  return {
    set: (device, record, field, value) => edit(device, record, { kind: 'set', field, value }),
    type: (device, record, field, at, token) => {
      const t = textOf(device, record, field)
      const i = insertionIndex(t, at)
      return edit(device, record, { kind: 'text', field, text: t.slice(0, i) + token + t.slice(i) })
    },
    cut: async (device, record, field, at) => {
      const t = textOf(device, record, field)
      const hit = tokenAt(t, at)
      if (hit === null) return null
      const ok = await edit(device, record, { kind: 'text', field, text: t.slice(0, hit.index) + t.slice(hit.index + hit.token.length) })
      return ok ? hit.token : null
    },
    remove: (device, record) => edit(device, record, { kind: 'delete' }),
    connect: async device => {
      const d = dev(device)
      bytes += 8 // the revision the device last saw
      const since = d.seenRev
      d.online = true
      upload(d)
      const missing: Units = new Map()
      for (const [r, m] of server) for (const [k, u] of m) if ((revs.get(`${r} ${k}`) ?? 0) > since) { if (!missing.has(r)) missing.set(r, new Map()); missing.get(r)!.set(k, u) }
      receive(d, missing)
      d.seenRev = rev
    },
    disconnect: async device => { dev(device).online = false },
    revoke: async () => {},
    snapshot: replica => {
      const units = replica === 'server' ? server : dev(replica).units
      return Object.fromEntries([...units].map(([r, m]) => [r, model.read(m)])) satisfies Snapshot
    },
    reports: (): readonly Report[] => [],
    traffic: () => bytes,
    stored: async () => jsonBytes(toWire(server)),
    close: async () => {}
  }
}
