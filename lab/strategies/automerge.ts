// Automerge 3: one document holds the records (fields as immutable strings, texts as collaborative text);
// devices exchange the changes the other side lacks (by heads), and a same-field race keeps one value and
// lists the others as conflicts, which the lab counts as shown to every user. No security.

import * as A from '@automerge/automerge'
import { insertionIndex, tokenAt, type LabRun, type LabWorld, type RecordSnapshot, type Report, type Strategy } from '../strategy.ts'

interface Rec { fields: Record<string, A.ImmutableString>, texts: Record<string, string> }
interface Doc { records: Record<string, Rec> }

interface Device { doc: A.Doc<Doc>, online: boolean, /** the server's heads as of the device's last exchange */ known: A.Heads }

/** A hex actor id per replica, from its name (a trace replays with the same ids). */
const actorOf = (name: string): string => Buffer.from(name.padEnd(16, '.')).toString('hex').slice(0, 64)
const HASH_BYTES = 32

const read = (r: Rec | undefined): RecordSnapshot => r === undefined
  ? { deleted: true, fields: {}, texts: {} }
  : { deleted: false, fields: Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, v.toString()])), texts: { ...r.texts } }

export const automergeRun = (world: LabWorld): LabRun => {
  // A change's time is the trace's (seconds), not the machine's: a trace replays to the same bytes.
  const time = (): number => Math.floor(world.serverNow() / 1000)
  let server = A.change(A.init<Doc>({ actor: actorOf('server') }), { time: time() }, d => {
    d.records = {}
    for (const r of world.records) {
      d.records[r.id] = { fields: Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, new A.ImmutableString(v)])), texts: { ...r.texts } }
    }
  })
  const initial = A.save(server)
  let bytes = 0
  const devices = new Map<string, Device>(world.devices.map(d => [d.id, { doc: A.load<Doc>(initial, { actor: actorOf(d.id) }), online: false, known: A.getHeads(server) }]))
  const dev = (id: string): Device => { const d = devices.get(id); if (d === undefined) throw new Error(`no device ${id}`); return d }

  /** The device sends what it has beyond the heads it shares with the server; the server passes it on to who is online. */
  const upload = (id: string, d: Device): void => {
    const changes = A.saveSince(d.doc, d.known)
    if (changes.length === 0) return
    bytes += changes.length
    server = A.loadIncremental(server, changes)
    for (const [oid, o] of devices) {
      if (oid === id || !o.online) continue
      bytes += changes.length
      o.doc = A.loadIncremental(o.doc, changes)
      o.known = A.getHeads(server)
    }
    d.known = A.getHeads(server)
  }

  const change = async (id: string, record: string, f: (d: Doc, r: Rec) => void): Promise<boolean> => {
    const d = dev(id)
    if (d.doc.records[record] === undefined) return false
    d.doc = A.change(d.doc, { time: time() }, x => f(x, x.records[record]))
    if (d.online) upload(id, d)
    return true
  }
  const textOf = (id: string, record: string, field: string): string => dev(id).doc.records[record]?.texts[field] ?? ''

  return {
    set: (device, record, field, value) => change(device, record, (_d, r) => { r.fields[field] = new A.ImmutableString(value) }),
    type: (device, record, field, at, token) => {
      const i = insertionIndex(textOf(device, record, field), at)
      return change(device, record, d => A.splice(d, ['records', record, 'texts', field], i, 0, token))
    },
    cut: async (device, record, field, at) => {
      const hit = tokenAt(textOf(device, record, field), at)
      if (hit === null) return null
      const ok = await change(device, record, d => A.splice(d, ['records', record, 'texts', field], hit.index, hit.token.length))
      return ok ? hit.token : null
    },
    remove: (device, record) => change(device, record, d => { delete d.records[record] }),
    connect: async device => {
      const d = dev(device)
      d.online = true
      upload(device, d)
      // The device names its heads; the server sends what is beyond them.
      const heads = A.getHeads(d.doc)
      bytes += heads.length * HASH_BYTES
      const missing = A.saveSince(server, heads)
      bytes += missing.length
      d.doc = A.loadIncremental(d.doc, missing)
      d.known = A.getHeads(server)
    },
    disconnect: async device => { dev(device).online = false },
    revoke: async () => {},
    snapshot: replica => {
      const doc = replica === 'server' ? server : dev(replica).doc
      return Object.fromEntries(world.records.map(r => [r.id, read(doc.records[r.id])]))
    },
    // The values a field's race did not keep, as the final document lists them (every user sees them).
    reports: () => {
      const out: Report[] = []
      for (const r of world.records) {
        const rec = server.records[r.id]
        if (rec === undefined) continue
        for (const field of Object.keys(rec.fields)) {
          const conflicts = A.getConflicts(rec.fields, field)
          if (conflicts === undefined || Object.keys(conflicts).length < 2) continue
          const kept = rec.fields[field].toString()
          for (const v of Object.values(conflicts)) {
            const s = String(v)
            if (s !== kept) out.push({ kind: 'conflict', user: undefined, record: r.id, field, attempted: s })
          }
        }
      }
      return out
    },
    traffic: () => bytes,
    stored: async () => A.save(server).length,
    close: async () => {}
  }
}

export const automerge: Strategy = {
  name: 'automerge',
  summary: 'Automerge 3 document; concurrent values of a field kept as conflicts (counted as shown to everyone); no security',
  start: async world => automergeRun(world)
}
