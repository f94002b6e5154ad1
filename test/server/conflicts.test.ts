// Same-field conflicts through the real server: the later edit by hybrid logical clock wins whatever the
// arrival order and the Yjs client ids, every replica ends equal, and exactly the author of each value a
// concurrent write superseded gets a `superseded` receipt; different fields and memo texts never do.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { parseMetadata } from '../../src/metadata/metadata.ts'
import * as Y from 'yjs'
import { decodeStamp, compareHlc, type FieldStamp, type Hlc } from '../../src/docs/hlc.ts'
import { CLOCKS, FIELDS, deleteRecord, editText, readRecord, setField } from '../../src/docs/record.ts'
import { encodeSyncStep1 } from '../../src/protocol/sync-messages.ts'
import { MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { Reason, type Receipt } from '../../src/protocol/receipts.ts'
import type { DocName } from '../../src/ids.ts'
import { copyOf, ownedBy, raw, startServer, type Raw } from '../security/support.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { chance, int, pick, withSeed } from '../helpers/seed.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!

interface Device {
  readonly login: string
  readonly userId: string
  readonly doc: Y.Doc
  readonly sock: Raw
}

const ACCOUNT_USERS = [['alice', 'u-alice'], ['avery', 'u-avery'], ['bob', 'u-bob']] as const

const serverDoc = (s: TestServer, name: DocName): Y.Doc => s.server.rooms.get(name).doc

/** Waits until everything sent on `d`'s socket so far is committed and published (the reply to a step 1 comes after). */
const barrier = async (d: Device): Promise<void> => {
  const before = d.sock.messages.length
  d.sock.ws.send(encodeSyncStep1(new Y.Doc()))
  await d.sock.received(m => d.sock.messages.indexOf(m) >= before && m[0] === MessageType.sync && m[1] === SyncStep.step2)
}

/** Sends what the server lacks of the device's copy, and waits for it to be committed. */
const push = async (s: TestServer, name: DocName, d: Device): Promise<void> => {
  d.sock.update(Y.encodeStateAsUpdate(d.doc, Y.encodeStateVector(serverDoc(s, name))))
  await barrier(d)
}

/** Brings the device's copy up to the server's. */
const pull = (s: TestServer, name: DocName, d: Device): void => {
  Y.applyUpdate(d.doc, Y.encodeStateAsUpdate(serverDoc(s, name), Y.encodeStateVector(d.doc)))
}

const device = async (s: TestServer, name: DocName, login: string, userId: string, clientID: number): Promise<Device> =>
  ({ login, userId, doc: copyOf(s, name, clientID), sock: await raw(cleanups, s, name, login) })

/** A server, alice's account on it, and copies of it on alice's and bob's devices under the given client ids. */
const aliceAndBob = async (aliceClient: number, bobClient: number): Promise<{ s: TestServer, name: DocName, alice: Device, bob: Device }> => {
  const s = await startServer(cleanups)
  const name = ownedBy(s, 'account', 'u-alice')
  return { s, name, alice: await device(s, name, 'alice', 'u-alice', aliceClient), bob: await device(s, name, 'bob', 'u-bob', bobClient) }
}

const superseded = (s: TestServer, userId: string, record: string): Receipt[] =>
  s.storage.receipts(userId, 0, 10_000).filter(r => r.record === record && r.reason === Reason.superseded)

const iso = (ms: number): string => new Date(ms).toISOString()

describe('same-field conflicts', () => {
  it('the later edit wins in either arrival order and whatever the client ids; its loser is told, on its socket too', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const entity = ACCOUNT
    const start = Date.now() - 60_000
    for (const [order, ids, t0] of [['earlier arrives first', [4_000_001, 3_000_001], start], ['later arrives first', [3_000_002, 4_000_002], start + 10_000]] as const) {
      const alice = await device(s, name, 'alice', 'u-alice', ids[0])
      const bob = await device(s, name, 'bob', 'u-bob', ids[1])
      // Both offline: alice edits first, bob a second later.
      setField(alice.doc, entity, 'telephone1', `alice ${order}`, { by: 'u-alice', at: iso(t0) })
      setField(bob.doc, entity, 'telephone1', `bob ${order}`, { by: 'u-bob', at: iso(t0 + 1000) })
      const [first, second] = order === 'earlier arrives first' ? [alice, bob] : [bob, alice]
      await push(s, name, first)
      await push(s, name, second)
      expect(readRecord(serverDoc(s, name)).fields.telephone1, order).toBe(`bob ${order}`)
      pull(s, name, alice)
      pull(s, name, bob)
      for (const d of [alice, bob]) {
        expect(d.doc.getMap(FIELDS).toJSON(), `${order}: ${d.login}`).toEqual(serverDoc(s, name).getMap(FIELDS).toJSON())
        expect(d.doc.getMap(CLOCKS).toJSON(), `${order}: ${d.login}`).toEqual(serverDoc(s, name).getMap(CLOCKS).toJSON())
      }
      const entries = superseded(s, 'u-alice', name).filter(r => r.attempted === `alice ${order}`)
      expect(entries, order).toHaveLength(1)
      expect(entries[0], order).toMatchObject({ field: 'telephone1', attempted: `alice ${order}`, kept: `bob ${order}`, change: 'field-set', conflict: { by: 'u-bob', at: iso(t0 + 1000), editedAt: iso(t0) } })
      expect(superseded(s, 'u-bob', name).filter(r => r.kept === `alice ${order}` || r.attempted === `bob ${order}`), order).toEqual([])
      // Pushed to alice's socket as well (she is connected), whichever update carried the conflict.
      await barrier(alice)
      expect(alice.sock.receipts().filter(r => r.reason === Reason.superseded && r.attempted === `alice ${order}`), order).toHaveLength(1)
    }
  })

  it('different fields, a text merged by character, and a write made on top of the current value raise nothing', async () => {
    const { s, name, alice, bob } = await aliceAndBob(5_000_001, 5_000_002)
    const entity = ACCOUNT
    const t0 = Date.now() - 60_000
    const memo = entity.attributes.find(a => a.type === 'memo')!.name
    setField(alice.doc, entity, 'telephone1', '555-0100', { by: 'u-alice', at: iso(t0) })
    editText(alice.doc, entity, memo, 0, 0, 'alice ', { by: 'u-alice', at: iso(t0) })
    setField(bob.doc, entity, 'websiteurl', 'https://bob.example', { by: 'u-bob', at: iso(t0 + 1) })
    editText(bob.doc, entity, memo, 0, 0, 'bob ', { by: 'u-bob', at: iso(t0 + 1) })
    await push(s, name, alice)
    await push(s, name, bob)
    pull(s, name, bob)
    // Bob saw alice's number; his clock runs behind hers, but he wrote on top of it: his value stands.
    setField(bob.doc, entity, 'telephone1', '555-0199', { by: 'u-bob', at: iso(t0 - 30_000) })
    await push(s, name, bob)
    const state = readRecord(serverDoc(s, name), entity)
    expect(state.fields).toMatchObject({ telephone1: '555-0199', websiteurl: 'https://bob.example' })
    expect(state.texts[memo]).toMatch(/alice /)
    expect(state.texts[memo]).toMatch(/bob /)
    expect(superseded(s, 'u-alice', name)).toEqual([])
    expect(superseded(s, 'u-bob', name)).toEqual([])
  })

  it('a stamp claiming to have seen a later value than the record holds does not make an older write stand', async () => {
    const { s, name, alice, bob } = await aliceAndBob(6_100_001, 6_100_002)
    const t0 = Date.now() - 60_000
    setField(alice.doc, ACCOUNT, 'telephone1', 'alice, later', { by: 'u-alice', at: iso(t0 + 1000) })
    await push(s, name, alice)
    // Bob's stale copy writes an earlier edit and claims it was made on top of a value from the far future.
    bob.doc.transact(() => {
      setField(bob.doc, ACCOUNT, 'telephone1', 'bob, earlier', { by: 'u-bob', at: iso(t0) })
      const own = decodeStamp(bob.doc.getMap(CLOCKS).get('telephone1'))!
      bob.doc.getMap(CLOCKS).set('telephone1', `${own.clock.wall}:${own.clock.counter}:${own.clock.writer} 99999999999999:0:1`)
    })
    await push(s, name, bob)
    expect(readRecord(serverDoc(s, name)).fields.telephone1).toBe('alice, later')
    expect(superseded(s, 'u-bob', name).map(r => r.attempted)).toEqual(['bob, earlier'])
  })

  it('a write of the value a field already has keeps its stamp if the user may write it, and not otherwise', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await device(s, name, 'alice', 'u-alice', 6_200_001)
    const erin = await device(s, name, 'erin', 'u-erin', 6_200_002)
    const current = String(readRecord(serverDoc(s, name)).fields.name)
    setField(alice.doc, ACCOUNT, 'name', current, { by: 'u-alice', at: iso(Date.now() - 1000) })
    await push(s, name, alice)
    const stamp = serverDoc(s, name).getMap(CLOCKS).get('name')
    expect(decodeStamp(stamp)?.clock.writer).toBe(6_200_001)
    setField(erin.doc, ACCOUNT, 'name', current, { by: 'u-erin', at: iso(Date.now() - 500) })
    await push(s, name, erin)
    expect(serverDoc(s, name).getMap(CLOCKS).get('name')).toBe(stamp)
  })

  it('a clock more than the allowed skew ahead counts as the time the write arrived', async () => {
    const { s, name, alice, bob } = await aliceAndBob(6_000_001, 6_000_002)
    const entity = ACCOUNT
    // Alice's device is a day ahead; bob edits (concurrently) after her update arrived.
    setField(alice.doc, entity, 'telephone1', 'from the future', { by: 'u-alice', at: iso(Date.now() + 86_400_000) })
    await push(s, name, alice)
    const stamp = decodeStamp(serverDoc(s, name).getMap(CLOCKS).get('telephone1'))!
    expect(stamp.clock.wall).toBeLessThanOrEqual(Date.now())
    setField(bob.doc, entity, 'telephone1', 'now', { by: 'u-bob', at: iso(Date.now() + 1000) })
    await push(s, name, bob)
    expect(readRecord(serverDoc(s, name)).fields.telephone1).toBe('now')
    expect(superseded(s, 'u-alice', name).map(r => r.attempted)).toEqual(['from the future'])
  })

  it('an edit arriving after the record was deleted is superseded by the delete, and its author told', async () => {
    const { s, name, alice, bob } = await aliceAndBob(7_000_001, 7_000_002)
    const entity = ACCOUNT
    deleteRecord(bob.doc, entity, { by: 'u-bob', at: iso(Date.now() - 1000) })
    setField(alice.doc, entity, 'telephone1', 'edited offline', { by: 'u-alice', at: iso(Date.now() - 500) })
    await push(s, name, bob)
    await push(s, name, alice)
    const state = readRecord(serverDoc(s, name), entity)
    expect(state.meta.deletedby).toBe('u-bob')
    expect(state.fields.telephone1).not.toBe('edited offline')
    const entries = superseded(s, 'u-alice', name)
    expect(entries.map(r => [r.change, r.field, r.attempted])).toEqual([['field-set', 'telephone1', 'edited offline']])
    expect(entries[0].conflict?.by).toBe('u-bob')
  })

  it('a delete arriving after an edit its writer had not seen tells that editor, and nobody else', async () => {
    const { s, name, alice, bob } = await aliceAndBob(7_100_001, 7_100_002)
    const avery = await device(s, name, 'avery', 'u-avery', 7_100_003)
    // Avery's edit bob has seen, alice's he has not.
    setField(avery.doc, ACCOUNT, 'telephone1', 'seen by bob', { by: 'u-avery', at: iso(Date.now() - 3000) })
    await push(s, name, avery)
    pull(s, name, bob)
    setField(alice.doc, ACCOUNT, 'websiteurl', 'https://unseen.example', { by: 'u-alice', at: iso(Date.now() - 2000) })
    await push(s, name, alice)
    deleteRecord(bob.doc, ACCOUNT, { by: 'u-bob', at: iso(Date.now() - 1000) })
    await push(s, name, bob)
    expect(readRecord(serverDoc(s, name), ACCOUNT).meta.deletedby).toBe('u-bob')
    expect(superseded(s, 'u-alice', name).map(r => [r.change, r.attempted, r.conflict?.by])).toEqual([['deleted', { websiteurl: 'https://unseen.example' }, 'u-bob']])
    expect(superseded(s, 'u-avery', name)).toEqual([])
    expect(superseded(s, 'u-bob', name)).toEqual([])
  })
})

describe('conflict strategies', () => {
  const strategies = { default: 'later-edit-wins', attributes: { 'account.telephone1': 'server-wins', 'account.accountnumber': 'device-wins', 'account.name': 'yjs' } }
  it('server-wins keeps the value the record holds, device-wins takes the arriving one, yjs leaves it to client ids with no entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-conflicts-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const metadata = { ...JSON.parse(readFileSync('config/metadata.json', 'utf8')) as object, conflicts: strategies }
    writeFileSync(join(dir, 'metadata.json'), JSON.stringify(metadata))
    const s = await startServer(cleanups, { METADATA: join(dir, 'metadata.json') })
    const name = ownedBy(s, 'account', 'u-alice')
    const entity = ACCOUNT
    const t0 = Date.now() - 60_000
    const alice = await device(s, name, 'alice', 'u-alice', 8_000_002)
    const bob = await device(s, name, 'bob', 'u-bob', 8_000_001)
    // Bob writes later by the clock but arrives second.
    for (const f of ['telephone1', 'accountnumber', 'name']) {
      setField(alice.doc, entity, f, `alice ${f}`, { by: 'u-alice', at: iso(t0) })
      setField(bob.doc, entity, f, `bob ${f}`, { by: 'u-bob', at: iso(t0 + 1000) })
    }
    await push(s, name, alice)
    await push(s, name, bob)
    const fields = readRecord(serverDoc(s, name)).fields
    expect(fields.telephone1).toBe('alice telephone1')
    expect(fields.accountnumber).toBe('bob accountnumber')
    // Yjs: the higher client id's write stays (alice's here), whatever the clocks.
    expect(fields.name).toBe('alice name')
    expect(superseded(s, 'u-bob', name).map(r => r.field)).toEqual(['telephone1'])
    expect(superseded(s, 'u-alice', name).map(r => r.field)).toEqual(['accountnumber'])
    pull(s, name, alice)
    pull(s, name, bob)
    expect(alice.doc.getMap(FIELDS).toJSON()).toEqual(serverDoc(s, name).getMap(FIELDS).toJSON())
    expect(bob.doc.getMap(FIELDS).toJSON()).toEqual(serverDoc(s, name).getMap(FIELDS).toJSON())
  })

  it('a metadata file naming an unknown strategy, entity or attribute is refused with its path', () => {
    const catalog = buildCatalog()
    const bad = (conflicts: unknown): string => { try { parseMetadata('m.json', JSON.stringify({ conflicts }), catalog); return 'accepted' } catch (e) { return (e as Error).message } }
    expect(bad({ default: 'newest' })).toMatch(/m\.json: conflicts\.default.*later-edit-wins/)
    expect(bad({ entities: { nosuch: 'yjs' } })).toMatch(/conflicts\.entities\.nosuch.*no entity/)
    expect(bad({ attributes: { 'account.nosuch': 'yjs' } })).toMatch(/conflicts\.attributes\.account\.nosuch.*no attribute/)
    expect(bad({ attributes: { 'account.description': 'yjs' } })).toMatch(/merges by character/)
    expect(bad({ entities: { account: 'server-wins' } })).toBe('accepted')
  })
})

/** One pushed write of a field, as the server model sees it. */
interface Write { device: Device, field: string, value: string, stamp: FieldStamp }

describe('same-field conflicts (seeded property)', () => {
  it('2-4 devices, random interleavings, clock skews and offline periods: replicas converge on the latest edit by clock, one entry per superseded concurrent write', async () => {
    await withSeed(async (gen) => {
      const s = await startServer(cleanups)
      const name = ownedBy(s, 'account', 'u-alice')
      const entity = ACCOUNT
      const FIELDS_USED = ['telephone1', 'accountnumber']
      const rounds = Number(process.env.CONFLICT_ROUNDS ?? 6)
      let expectedEntries = 0
      for (let round = 0; round < rounds; round++) {
        const n = int(gen, 2, 4)
        const devices: Device[] = []
        const skew: number[] = []
        const online: boolean[] = []
        const dirty: Set<string>[] = []
        for (let i = 0; i < n; i++) {
          const [login, userId] = i < ACCOUNT_USERS.length ? ACCOUNT_USERS[i] : ACCOUNT_USERS[0]
          devices.push(await device(s, name, login, userId, 10_000_000 + round * 100 + i * 10 + int(gen, 0, 9)))
          skew.push(int(gen, 0, 60_000) - 30_000)
          online.push(chance(gen, 0.5))
          dirty.push(new Set())
        }
        // The server's model: each field's current write.
        const current = new Map<string, Write & { clock: Hlc }>()
        const pushed: Write[] = []
        const expected: { userId: string, field: string, attempted: string, kept: string }[] = []
        let time = Date.now() - 3_600_000 + round * 100_000
        const sync = async (i: number): Promise<void> => {
          const d = devices[i]
          const writes = [...dirty[i]].map(f => ({ f, value: String(d.doc.getMap(FIELDS).get(f)), stamp: decodeStamp(d.doc.getMap(CLOCKS).get(f))! }))
          await push(s, name, d)
          for (const { f, value, stamp } of writes) {
            const w = { device: d, field: f, value, stamp, clock: stamp.clock }
            pushed.push(w)
            const cur = current.get(f)
            const sequential = cur === undefined || cur.clock.writer === stamp.clock.writer || (stamp.seen !== null && compareHlc(stamp.seen, cur.clock) === 0)
            if (sequential) current.set(f, w)
            else if (compareHlc(stamp.clock, cur.clock) > 0) {
              expected.push({ userId: cur.device.userId, field: f, attempted: cur.value, kept: value })
              current.set(f, w)
            } else expected.push({ userId: d.userId, field: f, attempted: value, kept: cur.value })
          }
          dirty[i].clear()
          pull(s, name, d)
        }
        for (let step = 0; step < 30; step++) {
          time += int(gen, 1, 2000)
          const i = int(gen, 0, n - 1)
          if (chance(gen, 0.6)) {
            const f = pick(gen, FIELDS_USED)
            setField(devices[i].doc, entity, f, `r${round}s${step}d${i}`, { by: devices[i].userId, at: iso(time + skew[i]) })
            dirty[i].add(f)
            if (online[i]) await sync(i)
          } else {
            online[i] = !online[i]
            if (online[i]) await sync(i)
          }
        }
        for (let i = 0; i < n; i++) await sync(i)
        for (let i = 0; i < n; i++) await sync(i)
        const server = serverDoc(s, name)
        for (const f of FIELDS_USED) {
          const ofField = pushed.filter(w => w.field === f)
          if (ofField.length === 0) continue
          // The value that stands is the model's, and the latest pushed write of the field by the clock.
          const latest = ofField.reduce((a, b) => compareHlc(a.stamp.clock, b.stamp.clock) >= 0 ? a : b)
          expect(readRecord(server).fields[f], `round ${round}: ${f} is the latest edit`).toBe(latest.value)
          expect(current.get(f)?.value, `round ${round}: ${f} as the model has it`).toBe(latest.value)
        }
        for (const d of devices) {
          expect(d.doc.getMap(FIELDS).toJSON(), `round ${round}: ${d.login}'s copy`).toEqual(server.getMap(FIELDS).toJSON())
          expect(d.doc.getMap(CLOCKS).toJSON(), `round ${round}: ${d.login}'s clocks`).toEqual(server.getMap(CLOCKS).toJSON())
        }
        expectedEntries += expected.length
        const got = ACCOUNT_USERS.flatMap(([, userId]) => superseded(s, userId, name).filter(r => String(r.attempted).startsWith(`r${round}s`) || String(r.kept).startsWith(`r${round}s`)))
          .map(r => ({ userId: r.principal, field: r.field, attempted: r.attempted, kept: r.kept }))
        const key = (e: { userId: string, field: string | null, attempted: unknown, kept: unknown }): string => `${e.userId} ${e.field} ${String(e.attempted)} ${String(e.kept)}`
        expect(got.map(key).sort(), `round ${round}: superseded entries`).toEqual(expected.map(key).sort())
      }
      console.log(`conflict property: ${rounds} rounds, ${expectedEntries} superseded entries checked`)
    })
  })
})

