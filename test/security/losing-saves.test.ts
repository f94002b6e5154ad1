// Attacks on what the server keeps of a save whose stamps lose Yjs's tie to a concurrent save (the shortcut
// in src/projection/project.ts keeps such an update as the bytes it came in when all it lost is its author's
// own modifiedby/modifiedon), through the real server over raw sockets. A value that loses a tie today can
// win on another replica (one that never got the winning save, or gets it later): whatever the server would
// not accept as a winner must be in no byte it keeps, stores or publishes.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { clearField, CLOCKS, FIELDS, META, readRecord, setField, stampRecord } from '../../src/docs/record.ts'
import { decodeStamp } from '../../src/docs/hlc.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import type { DocName } from '../../src/ids.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, edit, idsOwnedBy, open, raw, receiptsOn, startServer } from './support.ts'
import { encodedValues, heldValues, iso, keeping, keepingReplica, LOSES, nowhere, receiptsSince, send, spells, storedRows, WINS } from './concurrent-saves.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!

/** The demo accounts alice owns, as record names. */
const accounts = (s: TestServer): DocName[] => idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}` as DocName)

const rowOf = async (s: TestServer, name: DocName): Promise<Record<string, unknown>> =>
  await (await api(s, 'avery', `/api/records/${name}`)).json() as Record<string, unknown>

interface Tie {
  /** who saves first, under the winning client id (alice) */
  readonly winner?: { readonly login: string, readonly userId: string }
  readonly clients?: { readonly winner: number, readonly loser: number }
  /** the attacker's /sync query */
  readonly query?: string
}

/**
 * The winner saves `name` (its name field) under the winning client id; then `attacker` sends `save`, made
 * on a copy taken before that save, under the losing one: its modifiedby/modifiedon lose the tie.
 * Resolves with the log's rows before, the winner's, and those the attacker's save added.
 */
const loseTie = async (s: TestServer, name: DocName, attacker: string, save: (d: Y.Doc) => void, tie: Tie = {}): Promise<{ winner: Uint8Array, added: Uint8Array[], before: Uint8Array[] }> => {
  const { winner = { login: 'alice', userId: 'u-alice' }, clients = { winner: WINS, loser: LOSES } } = tie
  const theirs = copyOf(s, name, clients.loser)
  const first = await raw(cleanups, s, name, winner.login)
  const them = await raw(cleanups, s, name, attacker, tie.query)
  const before = await storedRows(s, name)
  await send(s, name, first, edit(copyOf(s, name, clients.winner), d => setField(d, ACCOUNT, 'name', `${winner.userId}'s ${name}`, { by: winner.userId, at: iso(Date.now()) })))
  const withWinner = await storedRows(s, name)
  expect(withWinner.length, 'the winning save is one row').toBe(before.length + 1)
  await send(s, name, them, edit(theirs, save))
  return { winner: withWinner[withWinner.length - 1], added: (await storedRows(s, name)).slice(withWinner.length), before }
}

describe('a losing save stamped in another author\'s name', () => {
  it('keeps the forged modifiedby nowhere: log, replicas, a replica without the winning save, the row, after a restart', async () => {
    let s = await startServer(cleanups)
    const forged = ['u-carol', '@server', 'u-mallory']
    const names = accounts(s).slice(0, forged.length)
    const replicas: Y.Doc[] = []
    for (const [i, by] of forged.entries()) {
      const name = names[i]
      expect(spells(await storedRows(s, name), by), 'not there before').toBe(false)
      const replica = await keepingReplica(cleanups, s, name, 'avery')
      replicas.push(replica)
      const value = `+47 bob ${i}`
      const { winner, added, before } = await loseTie(s, name, 'bob', d => setField(d, ACCOUNT, 'telephone1', value, { by, at: iso(Date.now()) }))
      // bob's write stands; the stamps that stand are alice's (hers won the tie).
      const record = readRecord(s.server.rooms.get(name).doc, ACCOUNT)
      expect(record.fields.telephone1).toBe(value)
      expect(record.meta.modifiedby).toBe('u-alice')
      await until(() => readRecord(replica, ACCOUNT).fields.telephone1 === value, 'the replica has bob\'s write', [replica])
      // A replica that never got alice's save (or lost it): bob's rows on top of what was there before.
      const without = keeping([...before, ...added])
      expect(readRecord(without, ACCOUNT).meta.modifiedby, by).not.toBe(by)
      nowhere(by, [...added, winner], [replica, without], by)
      expect((await rowOf(s, name)).modifiedby).toBe('u-alice')
    }
    s = await s.restart()
    cleanups.push(() => s.dispose())
    for (const [i, by] of forged.entries()) {
      const fresh = await keepingReplica(cleanups, s, names[i], 'avery')
      nowhere(by, await storedRows(s, names[i]), [fresh], `${by} after a restart`)
      expect(readRecord(s.server.rooms.get(names[i]).doc, ACCOUNT).meta.modifiedby).toBe('u-alice')
      expect((await rowOf(s, names[i])).modifiedby).toBe('u-alice')
    }
  })

  it('keeps no field stamp naming another writer\'s client id, the server\'s, or one nobody has', async () => {
    const s = await startServer(cleanups)
    const names = accounts(s).slice(0, 3)
    // The server's client id is bound with its first write: one that writes (a rule, an assignment) is not needed.
    await s.server.rooms.get(names[1]).ready
    const serverClient = s.server.rooms.get(names[1]).doc.clientID
    const writers = [WINS + 1, serverClient, 0x5eed0001]
    for (const [i, writer] of writers.entries()) {
      const name = names[i]
      const replica = await keepingReplica(cleanups, s, name, 'avery')
      const stamp = `${Date.now()}:0:${writer}`
      const value = `+47 bob ${i}`
      const { added } = await loseTie(s, name, 'bob', d => d.transact(() => {
        d.getMap(FIELDS).set('telephone1', value)
        d.getMap(CLOCKS).set('telephone1', stamp)
        stampRecord(d, { by: 'u-bob', at: iso(Date.now()) })
      }), { clients: { winner: WINS + 1, loser: LOSES + i } })
      const doc = s.server.rooms.get(name).doc
      expect(readRecord(doc, ACCOUNT).fields.telephone1).toBe(value)
      expect(decodeStamp(doc.getMap(CLOCKS).get('telephone1'))?.clock.writer, 'the stamp is the writer\'s').toBe(LOSES + i)
      await until(() => readRecord(replica, ACCOUNT).fields.telephone1 === value, 'the replica has bob\'s write', [replica])
      expect(encodedValues(added), `writer ${writer}`).not.toContain(stamp)
      expect(heldValues(replica), `writer ${writer}`).not.toContain(stamp)
    }
  })
})

describe('a losing save of a user who may not make it', () => {
  interface Case {
    readonly what: string
    readonly login: string
    readonly userId: string
    /** the value the save tries to keep (unique to the test) */
    readonly tried: string | number
    readonly save: (tried: string | number) => (d: Y.Doc) => void
    readonly reason: string
    readonly winner?: Tie['winner']
    /** after the attacker's device last got its privileges */
    readonly meanwhile?: (s: TestServer) => Promise<void>
  }
  const stamped = (d: Y.Doc, field: string, value: string | number, wall: number, by: string): void => d.transact(() => {
    d.getMap(FIELDS).set(field, value)
    d.getMap(CLOCKS).set(field, `${wall}:0:${d.clientID}`)
    stampRecord(d, { by, at: iso(Date.now()) })
  })
  const cases: Case[] = [
    { what: 'a read-only user writes a field nobody else did', login: 'erin', userId: 'u-erin', tried: '+47 erin', reason: Reason.noWritePrivilege, save: v => d => stamped(d, 'telephone1', v, Date.now(), 'u-erin') },
    // Her write is older than alice's: it loses the arbitration too, and its refusal is what she gets.
    { what: 'a read-only user writes the field the winner wrote', login: 'erin', userId: 'u-erin', tried: 'Erin Inc', reason: Reason.noWritePrivilege, save: v => d => stamped(d, 'name', v, Date.now() - 3_600_000, 'u-erin') },
    { what: 'a writer writes a secured field in the record\'s document', login: 'alice', userId: 'u-alice', winner: { login: 'avery', userId: 'u-avery' }, tried: 987654.25, reason: Reason.fieldSecured, save: v => d => stamped(d, 'revenue', v, Date.now(), 'u-alice') },
    {
      what: 'a writer whose write was revoked while offline', login: 'bob', userId: 'u-bob', tried: '+47 bob revoked', reason: Reason.privilegeRevoked,
      // He keeps read (an auditor) and loses write.
      meanwhile: async s => { expect((await api(s, 'avery', '/api/admin/users/u-bob/roles', { method: 'PUT', body: JSON.stringify({ roles: ['role-auditor'] }) })).status).toBe(200) },
      save: v => d => stamped(d, 'telephone1', v, Date.now(), 'u-bob')
    }
  ]

  it.each(cases)('$what: nothing of it is kept, and its receipts are those of the same save without the tie', async c => {
    const s = await startServer(cleanups)
    const [name, other] = accounts(s)
    const query = `receipts=1&pv=${s.security.index.version}`
    await c.meanwhile?.(s)
    const winner = c.winner ?? { login: 'alice', userId: 'u-alice' }
    const replica = await keepingReplica(cleanups, s, name, 'avery')
    const from = receiptsOn(s, c.userId, name).length
    const { added, before } = await loseTie(s, name, c.login, c.save(c.tried), { winner, query })
    const record = readRecord(s.server.rooms.get(name).doc, ACCOUNT)
    expect(record.meta.modifiedby).toBe(winner.userId)
    expect(Object.values(record.fields)).not.toContain(c.tried)
    await until(() => replica.getMap(META).get('modifiedby') === winner.userId, 'the replica has the winning save', [replica])
    // Nothing of theirs, in the log, in a replica that keeps deleted content, in one that never got the winning save.
    const without = keeping([...before, ...added])
    for (const d of [replica, without]) expect(heldValues(d), c.what).not.toContain(c.tried)
    expect(encodedValues(added), c.what).not.toContain(c.tried)
    // Their name as the save's stamp: in no byte they added, nor (unless the record named them before) in a replica.
    const named = heldValues(keeping(before)).some(v => typeof v === 'string' && v.includes(c.userId))
    nowhere(c.userId, added, named ? [] : [replica, without], c.what)
    const concurrent = receiptsSince(s, c.userId, name, from); console.log(c.what, JSON.stringify(concurrent))
    expect(concurrent.map(r => (r as unknown[])[3]), c.what).toContain(c.reason)
    // The same save made on another record as it is now (no tie): the same receipts.
    const fromOther = receiptsOn(s, c.userId, other).length
    const them = await raw(cleanups, s, other, c.login, query)
    await send(s, other, them, edit(copyOf(s, other, LOSES), c.save(c.tried)))
    expect(concurrent, c.what).toEqual(receiptsSince(s, c.userId, other, fromOther))
  })
})

describe('field stamps of a losing save that its writer may not keep', () => {
  it('a clock far past the allowed skew, on a field the writer wrote last and on one written concurrently, is not kept', async () => {
    const s = await startServer(cleanups)
    const [name, other] = accounts(s)
    const far = Date.now() + 30 * 86_400_000
    const farStamp = (d: Y.Doc): string => `${far}:0:${d.clientID}`
    const bob = await raw(cleanups, s, name, 'bob')
    await send(s, name, bob, edit(copyOf(s, name, LOSES), d => setField(d, ACCOUNT, 'telephone1', '+47 bob 1', { by: 'u-bob', at: iso(Date.now()) })))
    // bob wrote the field last: his next write of it is sequential, its stamp otherwise kept as he sent it.
    const rows = (await storedRows(s, name)).length
    await send(s, name, bob, edit(copyOf(s, name, LOSES), d => d.transact(() => {
      d.getMap(FIELDS).set('telephone1', '+47 bob 2')
      d.getMap(CLOCKS).set('telephone1', farStamp(d))
      stampRecord(d, { by: 'u-bob', at: iso(Date.now()) })
    })))
    // ... and the same save's stamps losing the tie to alice's.
    const { added } = await loseTie(s, other, 'bob', d => d.transact(() => {
      d.getMap(FIELDS).set('telephone1', '+47 bob 3')
      d.getMap(CLOCKS).set('telephone1', farStamp(d))
      stampRecord(d, { by: 'u-bob', at: iso(Date.now()) })
    }))
    for (const [record, value, kept] of [[name, '+47 bob 2', (await storedRows(s, name)).slice(rows)], [other, '+47 bob 3', added]] as const) {
      const doc = s.server.rooms.get(record).doc
      expect(readRecord(doc, ACCOUNT).fields.telephone1).toBe(value)
      const stamp = decodeStamp(doc.getMap(CLOCKS).get('telephone1'))
      expect(stamp?.clock.writer).toBe(LOSES)
      expect(stamp!.clock.wall, 'the stamp\'s clock').toBeLessThan(far)
      expect(spells(kept, String(far)), 'the stored rows').toBe(false)
    }
  })

  it('a stamp of a field the save does not write, or of a secured field, or another writer\'s earlier stamp, is not kept', async () => {
    const s = await startServer(cleanups)
    const [a, b, c] = accounts(s)
    // alice's earlier save of telephone1 on c, whose stamp bob then sends as his own.
    const alice = await raw(cleanups, s, c, 'alice')
    await send(s, c, alice, edit(copyOf(s, c, WINS + 7), d => setField(d, ACCOUNT, 'telephone1', '+47 alice', { by: 'u-alice', at: iso(Date.now()) })))
    const hers = String(s.server.rooms.get(c).doc.getMap(CLOCKS).get('telephone1'))
    expect(decodeStamp(hers)?.clock.writer).toBe(WINS + 7)
    // (A writer's own stamp alone on a field with a value clears it: websiteurl is cleared first, by alice.)
    const aliceOnA = await raw(cleanups, s, a, 'alice')
    await send(s, a, aliceOnA, edit(copyOf(s, a, WINS + 8), d => clearField(d, ACCOUNT, 'websiteurl', { by: 'u-alice', at: iso(Date.now()) })))
    const attacks: [DocName, string, (d: Y.Doc) => string][] = [
      [a, 'a field it does not write', d => { const st = `${Date.now() - 1000}:0:${d.clientID}`; d.getMap(CLOCKS).set('websiteurl', st); return st }],
      [b, 'a secured field', d => { const st = `${Date.now() - 1000}:0:${d.clientID}`; d.getMap(CLOCKS).set('revenue', st); return st }],
      [c, 'alice\'s earlier stamp', d => { d.getMap(CLOCKS).set('telephone1', hers); return hers }]
    ]
    for (const [name, what, forge] of attacks) {
      const replica = await keepingReplica(cleanups, s, name, 'avery')
      const clocksBefore = s.server.rooms.get(name).doc.getMap(CLOCKS).toJSON()
      const fieldsBefore = readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields
      let stamp = ''
      const { added } = await loseTie(s, name, 'bob', d => d.transact(() => {
        d.getMap(FIELDS).set('telephone1', `+47 bob, ${what}`)
        stamp = forge(d)
        if (what !== 'alice\'s earlier stamp') d.getMap(CLOCKS).set('telephone1', `${Date.now()}:0:${d.clientID}`)
        stampRecord(d, { by: 'u-bob', at: iso(Date.now()) })
      }))
      const clocks = s.server.rooms.get(name).doc.getMap<string>(CLOCKS)
      expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields.telephone1, what).toBe(`+47 bob, ${what}`)
      expect(decodeStamp(clocks.get('telephone1'))?.clock.writer, what).toBe(LOSES)
      for (const k of ['websiteurl', 'revenue']) expect(clocks.get(k), `${what}: ${k}`).toBe(clocksBefore[k])
      expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields.websiteurl, what).toBe(fieldsBefore.websiteurl)
      await until(() => readRecord(replica, ACCOUNT).fields.telephone1 === `+47 bob, ${what}`, 'the replica has bob\'s write', [replica])
      expect(encodedValues(added), what).not.toContain(stamp)
      expect(replica.getMap(CLOCKS).toJSON(), what).toEqual(clocks.toJSON())
    }
  })

  it('a save under another writer\'s client id is refused whole: nothing of it stored', async () => {
    const s = await startServer(cleanups)
    const [name] = accounts(s)
    const before = (await storedRows(s, name)).length
    // alice saves under WINS; bob then sends a losing save under that same id.
    const { added } = await loseTie(s, name, 'bob', d => setField(d, ACCOUNT, 'telephone1', '+47 bob as alice', { by: 'u-bob', at: iso(Date.now()) }), { clients: { winner: WINS, loser: WINS } })
    expect(added).toEqual([])
    expect((await storedRows(s, name)).length).toBe(before + 1)
    expect(receiptsOn(s, 'u-bob', name).map(r => r.reason)).toEqual([Reason.foreignClientId])
  })
})
