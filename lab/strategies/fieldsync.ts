// fieldsync as it runs: the real record pipeline (Rooms over SQLite storage, the authorization
// projection, arbitration and receipts) under one of the engine's conflict policies. Devices are Y.Docs
// edited with the device SDK's record helpers (which stamp every field write with the device's clock)
// and exchange updates with the rooms through the typed member API, as a /sync?receipts=1 socket would.

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import * as admin from '../../src/authz/admin.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, deleteRecord, editText, isDeleted, memoText, readRecord, setField } from '../../src/docs/record.ts'
import { asRecordId, type DocName } from '../../src/ids.ts'
import { STRATEGIES } from '../../src/metadata/conflict-strategies.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { demoModel } from '../../src/server/demo.ts'
import { SERVER_CLIENT_RANGE, type Room, type RoomMember } from '../../src/server/room.ts'
import { Rooms } from '../../src/server/rooms.ts'
import { Security } from '../../src/server/security.ts'
import { SqliteRecordStorage } from '../../src/server/storage/sqlite.ts'
import { openSqlite } from '../../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../../src/server/storage/sqlite-security.ts'
import { TraceError } from '../trace.ts'
import { insertionIndex, jsonBytes, tokenAt, type LabRun, type LabWorld, type RecordSnapshot, type Report, type Strategy } from '../strategy.ts'

const catalog = buildCatalog()
const ACCOUNT = catalog.entities.get('account')!
/** The lab's records are accounts owned by the North reps' team: alice, nina and bob (their manager) may write them. */
const OWNER = { ownerid: 'team/t-north', owningbusinessunit: 'bu-north' }
/** The role a revoked user is left with: reads everything, writes nothing. */
const READ_ONLY_ROLE = 'role-auditor'
/** Transaction origin of what a device receives (its own edits have none). */
const RECEIVED = 'lab-received'

interface Device {
  readonly id: string
  readonly user: string
  readonly skewMs: number
  readonly client: number
  readonly docs: Map<string, Y.Doc>
  /** the member of each record's room while online */
  readonly members: Map<string, RoomMember>
  /** the privilege version the device last received (at its last sync) */
  delivered: number
}

/** A Yjs client id for a device: from its id, so a trace replays with the same ids (and Yjs's ties). */
const clientOf = (id: string): number => {
  let h = 2166136261
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0
  return SERVER_CLIENT_RANGE + (h % (0xffffffff - SERVER_CLIENT_RANGE))
}

const nameOf = (record: string): DocName => `account/${record}` as DocName

/** The trace's fields must be account text attributes, its texts account memo attributes, its values fit them. */
const checkWorld = (world: LabWorld): void => {
  const kind = (name: string): string | undefined => ACCOUNT.attributes.find(a => a.name === name)?.type
  for (const f of world.fields) if (kind(f) !== 'text') throw new TraceError(`fieldsync runs a trace's fields as account text attributes: ${f} is not one`)
  for (const f of world.texts) if (kind(f) !== 'memo') throw new TraceError(`fieldsync runs a trace's texts as account memo attributes: ${f} is not one`)
}

export const fieldsyncRun = async (world: LabWorld, policy: string): Promise<LabRun> => {
  checkWorld(world)
  // On tmpfs where there is one: the lab measures CPU and bytes, not the disk's fsync.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fieldsync-lab-'))
  const db = openSqlite(join(dir, 'lab.db'))
  const storage = new SqliteRecordStorage(db, new SqliteProjection(db, catalog))
  const security = new Security(new SqliteSecurityStore(db), demoModel(catalog))
  const iso = (ms: number): string => new Date(ms).toISOString()
  const rooms = new Rooms({
    storage, catalog, security, idleUnloadMs: 3_600_000, compactAfter: 1000,
    conflicts: { default: policy, entities: {}, attributes: {} },
    now: () => iso(world.serverNow())
  })
  const room = async (record: string): Promise<Room> => { const r = rooms.get(nameOf(record)); await r.ready; return r }
  for (const r of world.records) {
    await (await room(r.id)).write(doc => createRecord(doc, ACCOUNT, { id: asRecordId(r.id), ...OWNER, values: { ...r.fields, ...r.texts } }, { by: 'u-avery', at: iso(world.serverNow()) }))
  }
  let bytes = 0
  const live: Receipt[] = []
  const devices = new Map<string, Device>()
  for (const d of world.devices) {
    const client = clientOf(d.id)
    const docs = new Map<string, Y.Doc>()
    for (const r of world.records) {
      const doc = new Y.Doc()
      doc.clientID = client
      Y.applyUpdate(doc, Y.encodeStateAsUpdate((await room(r.id)).doc), RECEIVED)
      docs.set(r.id, doc)
    }
    devices.set(d.id, { id: d.id, user: d.user, skewMs: d.skewMs, client, docs, members: new Map(), delivered: security.model.version })
  }
  const dev = (id: string): Device => { const d = devices.get(id); if (d === undefined) throw new Error(`no device ${id}`); return d }
  const reportOf = (r: Receipt): Report => ({
    kind: r.reason === 'superseded' ? 'conflict' : 'refusal', user: r.principal, record: r.record.slice(r.record.indexOf('/') + 1), field: r.field, attempted: r.attempted
  })

  /** A room closing a lab member is a bug of the lab or the engine: the run stops with it at the next step. */
  const closed: string[] = []
  /** submissions a room asked for (`needState`) and the step that caused them must wait for */
  const inflight: Promise<void>[] = []
  const memberOf = (d: Device, record: string): RoomMember => {
    const doc = d.docs.get(record)!
    return {
      principal: d.user, delivered: d.delivered, device: d.id,
      update: update => { bytes += update.length; Y.applyUpdate(doc, update, RECEIVED) },
      needState: stateVector => { bytes += stateVector.length; inflight.push(submit(d, record, Y.encodeStateAsUpdate(doc, stateVector))) },
      receipts: list => { bytes += jsonBytes(list); live.push(...list) },
      presence: () => {},
      close: (code, reason) => { closed.push(`the room closed ${d.id} on ${record}: ${code} ${reason}`) }
    }
  }

  const submit = async (d: Device, record: string, update: Uint8Array): Promise<void> => {
    const m = d.members.get(record)
    if (m === undefined) return
    bytes += update.length
    const outcome = await (await room(record)).submit(m, update)
    if (outcome.kind === 'dropped' || outcome.kind === 'failed') closed.push(`${d.id}'s update of ${record} was ${outcome.kind}`)
  }

  /** Waits until the record's room has committed and published everything, answers to its requests included. */
  const settle = async (record: string): Promise<void> => {
    const r = await room(record)
    do {
      await r.settled()
      await Promise.all(inflight.splice(0))
    } while (r.busy || inflight.length > 0)
    if (closed.length > 0) throw new Error(closed.join('; '))
  }

  /** Runs a device's edit on its copy; sends the update at once when online. */
  const edit = async (device: string, record: string, f: (doc: Y.Doc, at: string) => void): Promise<boolean> => {
    const d = dev(device)
    const doc = d.docs.get(record)!
    // A record deleted on the device's copy takes no edit (the SDK refuses it); any other refusal is the trace's error.
    if (isDeleted(readRecord(doc, ACCOUNT))) return false
    const before = Y.encodeStateVector(doc)
    f(doc, iso(world.serverNow() + d.skewMs))
    const update = Y.encodeStateAsUpdate(doc, before)
    // (A cut that found no token wrote nothing: nothing to send.)
    if (d.members.has(record) && update.length > 2) {
      await submit(d, record, update)
      await settle(record)
    }
    return true
  }
  const actor = (d: string, at: string): { by: string, at: string } => ({ by: dev(d).user, at })

  return {
    set: (device, record, field, value) => edit(device, record, (doc, at) => setField(doc, ACCOUNT, field, value, actor(device, at))),
    type: (device, record, field, at, token) => edit(device, record, (doc, when) => {
      editText(doc, ACCOUNT, field, insertionIndex(memoText(doc, field).toString(), at), 0, token, actor(device, when))
    }),
    cut: async (device, record, field, at) => {
      let cut: string | null = null
      const ok = await edit(device, record, (doc, when) => {
        const hit = tokenAt(memoText(doc, field).toString(), at)
        if (hit === null) return
        editText(doc, ACCOUNT, field, hit.index, hit.token.length, '', actor(device, when))
        cut = hit.token
      })
      return ok ? cut : null
    },
    remove: (device, record) => edit(device, record, (doc, at) => deleteRecord(doc, ACCOUNT, actor(device, at))),
    connect: async device => {
      const d = dev(device)
      for (const record of world.records.map(r => r.id)) {
        const doc = d.docs.get(record)!
        const r = await room(record)
        const m = memberOf(d, record)
        d.members.set(record, m)
        r.join(m)
        // y-websocket's handshake: each side's step 1 (a state vector), each side's step 2 (what the other lacks).
        const sv = Y.encodeStateVector(doc)
        bytes += sv.length
        r.requestState(m, sv)
        const serverSv = r.stateVector()
        bytes += serverSv.length
        const mine = Y.encodeStateAsUpdate(doc, serverSv)
        if (mine.length > 2) await submit(d, record, mine)
        await settle(record)
      }
      d.delivered = security.model.version
    },
    disconnect: async device => {
      const d = dev(device)
      for (const [record, m] of d.members) (await room(record)).leave(m)
      d.members.clear()
    },
    revoke: async user => {
      security.change(m => admin.setRoles(m, 'user', user, { roles: [READ_ONLY_ROLE] }))
    },
    snapshot: replica => {
      const out: Record<string, RecordSnapshot> = {}
      for (const r of world.records) {
        const doc = replica === 'server' ? rooms.get(nameOf(r.id)).doc : dev(replica).docs.get(r.id)!
        const s = readRecord(doc, ACCOUNT)
        out[r.id] = {
          deleted: isDeleted(s),
          fields: Object.fromEntries(world.fields.filter(f => s.fields[f] !== undefined && s.fields[f] !== null).map(f => [f, String(s.fields[f])])),
          texts: Object.fromEntries(world.texts.map(f => [f, memoText(doc, f).toString()]))
        }
      }
      return out
    },
    // Every receipt in each user's log: a device gets its user's at its next sync (the lab ends with one).
    reports: () => {
      const users = [...new Set(world.devices.map(d => d.user))]
      const all = new Map<number | string, Receipt>()
      for (const r of [...live, ...users.flatMap(u => storage.receipts(u, 0, 1_000_000))]) all.set(r.seq ?? JSON.stringify(r), r)
      return [...all.values()].map(reportOf)
    },
    traffic: () => bytes,
    stored: async () => {
      let n = 0
      for (const r of world.records) for (const u of (await storage.load(nameOf(r.id))).updates) n += u.data.length
      return n
    },
    close: async () => {
      for (const d of devices.values()) for (const doc of d.docs.values()) doc.destroy()
      await rooms.close()
      await storage.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** One strategy per conflict policy the engine offers. */
export const fieldsyncStrategies: Strategy[] = Object.keys(STRATEGIES).map(policy => ({
  name: `fieldsync-${policy}`,
  summary: `fieldsync's real pipeline (SQLite, projection, receipts) under the \`${policy}\` conflict policy`,
  start: world => fieldsyncRun(world, policy)
}))
