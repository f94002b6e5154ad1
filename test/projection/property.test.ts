// The projection's property test: random organizations, roles and assignments; random edits from
// random users on random records, with random privilege changes in between. After every step the
// persisted document, the projected row and the state built from only the allowed changes agree; no
// byte ever persisted or broadcast carries a dropped value; every dropped change has one receipt.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import type { EntityDef } from '../../src/docs/catalog-types.ts'
import { addNote, createRecord, deleteRecord, editText, emptyState, readRecord, setField, META, FIELDS, type RecordState } from '../../src/docs/record.ts'
import { applyChanges, diff } from '../../src/docs/diff.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
import { DEPTHS, emptyModel, type Depth, type Privilege, type Role, type SecurityModel } from '../../src/authz/model.ts'
import type { Org } from '../../src/authz/org.ts'
import { decideChanges, type Verdict } from '../../src/projection/decide-changes.ts'
import { rowOf } from '../../src/projection/rows.ts'
import { receiptWorthy } from '../../src/projection/project.ts'
import { Rooms } from '../../src/server/rooms.ts'
import type { Room } from '../../src/server/room.ts'
import { recordingMember, type MemberEvent } from '../../tools/room-member.ts'
import { Security } from '../../src/server/security.ts'
import { openTestStores } from '../helpers/test-store.ts'
import { asRecordId, type DocName } from '../../src/ids.ts'
import { chance, int, pick, withSeed, type Gen } from '../helpers/seed.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const ENTITIES = ['account', 'task', 'email'] as const
const PRIVS: Privilege[] = ['create', 'read', 'write', 'delete', 'appendTo', 'assign']
const cleanups = useCleanups()

/** An empty test store (a SQLite file, or a new PostgreSQL schema with FIELDSYNC_STORE=pg) holding `model`. */
const stores = async (label: string, model: SecurityModel) => {
  const dir = mkdtempSync(join(tmpdir(), label))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const t = await openTestStores(dir, true, catalog, 1024, {}, { empty: true })
  return { t, storage: t.storage, projection: t.projection, security: new Security(t.stores.security, model) }
}

const randomModel = (gen: Gen): SecurityModel => {
  const users = ['u1', 'u2', 'u3', 'u4']
  const org: Org = {
    businessUnits: [{ id: 'root', name: 'root', parentId: null }, { id: 'a', name: 'a', parentId: 'root' }, { id: 'b', name: 'b', parentId: 'root' }, { id: 'a1', name: 'a1', parentId: 'a' }],
    users: [
      { id: 'admin', login: 'admin', fullName: 'admin', businessUnitId: 'root', managerId: null },
      ...users.map((u, i) => ({ id: u, login: u, fullName: u, businessUnitId: pick(gen, ['root', 'a', 'b', 'a1']), managerId: i === 0 ? null : pick(gen, users.slice(0, i)) }))
    ],
    teams: [{ id: 't1', name: 't1', businessUnitId: pick(gen, ['a', 'b']), members: users.filter(() => chance(gen, 0.5)) }]
  }
  const roles: Role[] = [{ id: 'admin', name: 'admin', admin: true, privileges: Object.fromEntries(ENTITIES.map(e => [e, Object.fromEntries(PRIVS.map(p => [p, 'organization']))])) }]
  for (let r = 0; r < 3; r++) roles.push(randomRole(gen, `r${r}`))
  return {
    ...emptyModel(org), roles,
    userRoles: { admin: ['admin'], ...Object.fromEntries(users.map(u => [u, [pick(gen, ['r0', 'r1', 'r2'])]])) },
    teamRoles: chance(gen, 0.5) ? { t1: ['r2'] } : {},
    hierarchy: { enabled: chance(gen, 0.5), depth: int(gen, 1, 3) },
    securedFields: ['account.revenue'],
    fieldProfiles: [{ id: 'fp', name: 'fp', users: users.filter(() => chance(gen, 0.5)), teams: [], permissions: { 'account.revenue': { read: true, update: chance(gen, 0.5), create: chance(gen, 0.5) } } }]
  }
}

const randomRole = (gen: Gen, id: string): Role => ({
  id, name: id, admin: false,
  privileges: Object.fromEntries(ENTITIES.map(e => [e, Object.fromEntries(PRIVS.filter(() => chance(gen, 0.7)).map(p => [p, pick(gen, DEPTHS) as Depth]))]))
})

/** A random privilege change. */
const changeModel = (gen: Gen, m: SecurityModel): SecurityModel => {
  const next = { ...m, version: m.version + 1 }
  switch (int(gen, 0, 3)) {
    case 0: return { ...next, roles: m.roles.map(r => r.id === 'admin' ? r : chance(gen, 0.5) ? randomRole(gen, r.id) : r) }
    case 1: return { ...next, userRoles: { ...m.userRoles, [pick(gen, ['u1', 'u2', 'u3', 'u4'])]: chance(gen, 0.8) ? [pick(gen, ['r0', 'r1', 'r2'])] : [] } }
    case 2: return { ...next, hierarchy: { enabled: !m.hierarchy.enabled, depth: int(gen, 1, 3) } }
    default: return { ...next, fieldProfiles: m.fieldProfiles.map(p => ({ ...p, users: ['u1', 'u2', 'u3', 'u4'].filter(() => chance(gen, 0.5)) })) }
  }
}

// Markers are numbered per run (reset by each run), so that a seed replays the same run whatever ran before.
let markerCount = 0
const marker = (): string => `Q${++markerCount}Z`
const MARKER = /Q\d+Z/g

/** The value an attribute edit attempts: usually a fitting value carrying a marker where it can. */
const attemptValue = (gen: Gen, e: EntityDef, attr: string): unknown => {
  const a = e.attributes.find(x => x.name === attr)!
  if (chance(gen, 0.1)) return a.type === 'text' ? 12345 : `bad${marker()}`
  switch (a.type) {
    case 'text': return `v${marker()}`
    case 'money': return int(gen, 0, 100000) / 100
    case 'whole': return int(gen, 0, 100)
    case 'boolean': return chance(gen, 0.5)
    case 'optionset': return pick(gen, a.options!).value
    case 'lookup': return `${a.targets![0]}/x${int(gen, 1, 9)}`
    case 'date': return '2026-05-01'
    default: return `v${marker()}`
  }
}

const EDITABLE: Record<string, string[]> = {
  account: ['name', 'telephone1', 'revenue', 'numberofemployees', 'donotemail', 'industrycode', 'parentaccountid'],
  task: ['subject', 'percentcomplete', 'prioritycode', 'scheduledend'],
  email: ['subject', 'sender']
}

/** Random edits on a device document already holding the server's state. */
const randomEdits = (gen: Gen, doc: Y.Doc, e: EntityDef, userId: string, model: SecurityModel, name: string): void => {
  const at = { by: userId, at: new Date().toISOString() } // note times must be near the server's clock
  const s = readRecord(doc, e)
  if (s.meta.entity === undefined) {
    const owner = chance(gen, 0.8) ? userId : pick(gen, ['u1', 'u2', 'u3', 'u4'])
    const bu = model.org.users.find(u => u.id === owner)!.businessUnitId
    createRecord(doc, e, { id: asRecordId(name.split('/')[1]), ownerid: `systemuser/${owner}`, owningbusinessunit: chance(gen, 0.9) ? bu : 'b', values: {} }, at)
    return
  }
  if (s.meta.deletedon !== undefined) return
  for (let i = int(gen, 1, 3); i > 0; i--) {
    const fields = doc.getMap(FIELDS)
    switch (int(gen, 0, 9)) {
      case 0: case 1: case 2: case 3: {
        const attr = pick(gen, EDITABLE[e.name])
        const v = attemptValue(gen, e, attr)
        doc.transact(() => { fields.set(attr, v as never); doc.getMap(META).set('modifiedby', userId) })
        break
      }
      case 4: if (e.attributes.some(a => a.name === 'description')) {
        const t = doc.getText('memo:description')
        editText(doc, e, 'description', int(gen, 0, t.length), 0, ` t${marker()}`, at)
      }
        break
      case 5: addNote(doc, e, `n${marker()}`, { subject: 's', text: `note ${marker()}` }, at); break
      case 6: {
        const owner = pick(gen, ['u1', 'u2', 'u3', 'u4'])
        const bu = model.org.users.find(u => u.id === owner)!.businessUnitId
        doc.transact(() => { doc.getMap(META).set('ownerid', `systemuser/${owner}`); doc.getMap(META).set('owningbusinessunit', bu) })
        break
      }
      case 7: doc.getMap(META).set('createdby', `forged${marker()}`); break
      case 8: fields.set(`bogus_${marker().toLowerCase()}`, 1); break
      default: if (chance(gen, 0.3)) { deleteRecord(doc, e, at); return }
        setField(doc, e, EDITABLE[e.name][0], `w${marker()}`, at)
    }
  }
}

const stringsOf = (v: unknown): string[] => typeof v === 'string' ? [v] : v !== null && typeof v === 'object' ? Object.values(v).flatMap(stringsOf) : []

describe('authorization projection (property)', () => {
  // 99: a refused text edit's string diff spanned an older, allowed marker (the oracle took it as dropped).
  it.each([undefined, 99])('persisted state = projected rows = allowed changes only; dropped values never persisted or broadcast; one receipt per drop (seed %s)', async (fixed) => {
    await withSeed(async (gen, seed) => {
      markerCount = 0
      const { t, storage, projection, security } = await stores('fieldsync-prop-', randomModel(gen))
      const rooms = new Rooms({ storage: t.stores.storage, catalog, security, idleUnloadMs: 60_000, compactAfter: 25 })
      cleanups.push(async () => { await rooms.close(); await t.close(); await t.drop() })

      const broadcast: MemberEvent[] = []
      const peerOf = (principal: string) => recordingMember(principal, { events: broadcast })
      const names: DocName[] = []
      const expected = new Map<DocName, RecordState>()
      const dropped = new Set<string>()
      let receiptsSeen = 0
      let dropsExpected = 0
      let applied = 0
      let allowedTotal = 0
      const roomOf = async (name: DocName): Promise<Room> => { const r = rooms.get(name); await r.ready; return r }

      // Records the server creates, owned by random users; observers (the admin) watch every record.
      for (const entity of ENTITIES) {
        const e = catalog.entities.get(entity)!
        for (let i = 0; i < (entity === 'email' ? 1 : 3); i++) {
          const name = `${entity}/s${i}` as DocName
          const owner = pick(gen, ['u1', 'u2', 'u3', 'u4'])
          const bu = security.model.org.users.find(u => u.id === owner)!.businessUnitId
          const room = await roomOf(name)
          room.join(peerOf('admin'))
          await room.write(doc => createRecord(doc, e, { id: asRecordId(`s${i}`), ownerid: `systemuser/${owner}`, owningbusinessunit: bu, values: { [e.primaryName]: `start ${i}` } }, { by: 'admin', at: '2026-11-27T09:00:00.000Z' }))
          names.push(name)
          expected.set(name, readRecord(room.doc, e))
        }
      }
      for (let k = 0; k < 3; k++) names.push(`task/d${k}` as DocName) // records devices may create

      const TARGET = Number(process.env.PROPERTY_STEPS ?? 250) // applied edit steps per run
      for (let step = 0; applied < TARGET && step < 8 * TARGET; step++) { // (bounded: most steps may find no user able to open the record)
        if (chance(gen, 0.15)) { security.change(m => changeModel(gen, m)); continue }
        const name = pick(gen, names)
        const entity = catalog.entities.get(name.split('/')[0])!
        const userId = chance(gen, 0.1) ? 'admin' : pick(gen, ['u1', 'u2', 'u3', 'u4'])
        const room = await roomOf(name)
        const ix = security.index
        if (!room.mayOpen(ix, userId)) continue // the server would not let this device connect
        const before = expected.get(name) ?? emptyState()
        expect(readRecord(room.doc, entity)).toEqual(before)
        const device = new Y.Doc()
        Y.applyUpdate(device, Y.encodeStateAsUpdate(room.doc))
        const sv = Y.encodeStateVector(device)
        const firstMarker = markerCount + 1
        randomEdits(gen, device, entity, userId, security.model, name)
        // The markers this step's edits carry: a dropped change's value may hold older ones too (the
        // string diff of a text spans whatever lies between its first and last difference), which are
        // not dropped by this step.
        const fresh = (m: string): boolean => Number(m.slice(1, -1)) >= firstMarker
        const update = Y.encodeStateAsUpdate(device, sv)
        const after = readRecord(device, entity)
        // A key outside the layout makes the whole update refused before it is decided: one receipt.
        const outside = Object.keys(after.fields).some(k => k.startsWith('bogus_'))
        const verdicts: Verdict[] = outside
          ? diff(before, after).map(c => ({ change: c, allowed: false, reason: 'invalid-value', message: 'outside the layout' }))
          : decideChanges({ entity, record: name, userId, ix: new ModelIndex(security.model), secured: new Set(security.model.securedFields.filter(f => f.startsWith(`${entity.name}.`)).map(f => f.slice(entity.name.length + 1))) }, before, after, diff(before, after))
        const allowed = verdicts.filter(v => v.allowed).map(v => v.change)
        applied++
        allowedTotal += allowed.length
        for (const v of verdicts) {
          if (v.allowed) continue
          const value = v.change.kind === 'text-edited' ? v.change.insert : v.change.kind === 'field-set' || v.change.kind === 'meta-set' ? v.change.new : v.change.kind === 'note-added' ? v.change.note : null
          for (const s of stringsOf(value)) for (const [m] of s.matchAll(MARKER)) if (fresh(m)) dropped.add(m)
        }
        dropsExpected += outside ? 1 : receiptWorthy(verdicts).length
        expected.set(name, applyChanges(before, allowed))

        const peer = peerOf(userId)
        room.join(peer)
        void room.submit(peer, update)
        await room.settled()
        room.leave(peer)

        // The live document, the stored log and the projected row all equal the allowed-only state.
        const want = expected.get(name)!
        expect(readRecord(room.doc, entity), `step ${step} live`).toEqual(want)
        const stored = new Y.Doc()
        for (const u of (await storage.load(name)).updates) Y.applyUpdate(stored, u.data)
        expect(stored.store.pendingStructs).toBeNull()
        expect(readRecord(stored, entity), `step ${step} stored`).toEqual(want)
        expect(projection.row(entity.name, name.split('/')[1]) ?? null, `step ${step} row`).toEqual(rowOf(entity, want))
        // Receipts: exactly one per dropped change.
        receiptsSeen = ['admin', 'u1', 'u2', 'u3', 'u4'].reduce((n, u) => n + storage.receipts(u, 0, 1_000_000).length, 0)
        expect(receiptsSeen, `step ${step} receipts`).toBe(dropsExpected)
      }
      // No dropped value was ever persisted or broadcast.
      const persisted = t.sql<{ data: Uint8Array }>('SELECT data FROM record_updates').map(r => r.data)
      // (what members were sent; receipts, which name the attempted value to its author, were not asked for)
      const all = Buffer.concat([...persisted, ...broadcast.flatMap(b => b.kind === 'update' || b.kind === 'presence' ? [Buffer.from(b.update)] : [])])
      const leaked = [...dropped].filter(m => all.includes(m))
      expect(leaked, `seed ${seed}`).toEqual([])
      expect(dropped.size).toBeGreaterThan(0)
      expect(applied).toBe(TARGET)
      expect(allowedTotal).toBeGreaterThan(0)
      expect(dropsExpected).toBeGreaterThan(0)
      if (process.env.PROPERTY_STATS === '1') console.log({ seed, applied, allowedTotal, dropsExpected, dropped: dropped.size })
    }, fixed)
  })
})

describe('a compensation the device has not seen yet', () => {
  it('loses to the user\'s later allowed edit of the same field', async () => {
    const model = randomModel((await import('lib0/prng')).create(1))
    const readOnly: Role = { id: 'ro', name: 'ro', admin: false, privileges: { account: { read: 'organization' } } }
    const { t, projection, security } = await stores('fieldsync-tie-', { ...model, roles: [...model.roles, readOnly], userRoles: { ...model.userRoles, u1: ['ro'] }, teamRoles: {}, hierarchy: { enabled: false, depth: 1 }, shares: [] })
    const rooms = new Rooms({ storage: t.stores.storage, catalog, security, idleUnloadMs: 60_000, compactAfter: 1000 })
    cleanups.push(async () => { await rooms.close(); await t.close(); await t.drop() })
    const account = catalog.entities.get('account')!
    const room = rooms.get('account/t1' as DocName)
    await room.ready
    await room.write(doc => createRecord(doc, account, { id: asRecordId('t1'), ownerid: 'systemuser/u1', owningbusinessunit: security.model.org.users.find(u => u.id === 'u1')!.businessUnitId, values: { name: 'original' } }, { by: 'admin', at: '2026-11-27T09:00:00.000Z' }))
    const peer = recordingMember('u1')
    room.join(peer)
    const device = new Y.Doc()
    device.clientID = 0x7fffffff // any device id above the server's range
    Y.applyUpdate(device, Y.encodeStateAsUpdate(room.doc))
    const push = async (): Promise<void> => {
      void room.submit(peer, Y.encodeStateAsUpdate(device, Y.encodeStateVector(room.doc)))
      await room.settled()
    }
    setField(device, account, 'name', 'while read-only', { by: 'u1', at: '2026-11-27T10:00:00.000Z' })
    await push()
    expect(readRecord(room.doc, account).fields.name).toBe('original')
    security.change(m => ({ ...m, version: m.version + 1, userRoles: { ...m.userRoles, u1: ['admin'] } }))
    // Still offline: the device has not received the compensation and edits the same field again.
    setField(device, account, 'name', 'after write was granted', { by: 'u1', at: '2026-11-27T11:00:00.000Z' })
    await push()
    expect(readRecord(room.doc, account).fields.name).toBe('after write was granted')
    Y.applyUpdate(device, Y.encodeStateAsUpdate(room.doc))
    expect(readRecord(device, account)).toEqual(readRecord(room.doc, account))
    expect(projection.row('account', 't1')?.name).toBe('after write was granted')
  })
})
