// Attacks on same-field conflict arbitration (README, "Conflicts"), through the real server over raw
// sockets: what a user who may not write, or a writer with crafted stamps, can make the server keep or
// tell others. Every attacker's copy must end equal to the record once it applied what it was sent.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { CLOCKS, FIELDS, readRecord, setField, stampField } from '../../src/docs/record.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { fieldDocName, type DocName } from '../../src/ids.ts'
import type { TestServer } from '../helpers/server.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, applyReceived, copyOf, edit, exactly, ownedBy, raw, receiptsOn, startServer, type Raw } from './support.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!
const iso = (ms: number): string => new Date(ms).toISOString()

/** Sends `update` on `r` and waits until the server answered (a sync reply queued behind it) and settled. */
const send = async (s: TestServer, name: DocName, r: Raw, update: Uint8Array): Promise<Uint8Array[]> => {
  const from = r.messages.length
  r.update(update)
  r.ws.send(new Uint8Array([0, SyncStep.step1, 1, 0]))
  await until(() => r.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2) || r.ws.readyState >= 2, 'the reply')
  await s.server.rooms.get(name).settled()
  return r.messages.slice(from)
}

/** The attacker's copy, with what it sent and what it was sent, equals the record. */
const converges = (s: TestServer, name: DocName, mine: Y.Doc, received: readonly Uint8Array[]): void => {
  applyReceived(mine, received)
  expect(exactly(mine), 'the sender converged').toEqual(exactly(s.server.rooms.get(name).doc))
}

/** A server whose metadata gives some account fields other strategies. */
const withStrategies = async (attributes: Record<string, string>, env: Record<string, string> = {}): Promise<TestServer> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-conflict-attacks-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const metadata = { ...JSON.parse(readFileSync('config/metadata.json', 'utf8')) as object, conflicts: { attributes } }
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(metadata))
  return startServer(cleanups, { METADATA: join(dir, 'metadata.json'), ...env })
}

/** Alice's write of `field` as the record's current value (stamped now). */
const aliceWrites = async (s: TestServer, name: DocName, field: string, value: string, client = 0x5000001): Promise<void> => {
  const alice = await raw(cleanups, s, name, 'alice')
  await send(s, name, alice, edit(copyOf(s, name, client), d => setField(d, ACCOUNT, field, value, { by: 'u-alice', at: iso(Date.now() - 1000) })))
  alice.ws.close()
}

/** A write of `field` made without seeing the current value, stamped at `wall` (earlier: it loses). */
const concurrentWrite = (s: TestServer, name: DocName, client: number, field: string, value: string, wall: number): { doc: Y.Doc, update: Uint8Array } => {
  const doc = copyOf(s, name, client)
  const update = edit(doc, d => d.transact(() => {
    d.getMap(FIELDS).set(field, value)
    d.getMap(CLOCKS).set(field, `${wall}:0:${client}`)
  }))
  return { doc, update }
}

describe('conflict entries an attacker can make the server keep', () => {
  it('a stream of losing concurrent writes keeps no more entries for the writer than its receipt quota', async () => {
    const s = await startServer(cleanups, { MAX_RECEIPTS_PER_RECORD: '5' })
    const name = ownedBy(s, 'account', 'u-alice')
    await aliceWrites(s, name, 'telephone1', 'alice')
    const bob = await raw(cleanups, s, name, 'bob')
    for (let i = 0; i < 12; i++) {
      const { doc, update } = concurrentWrite(s, name, 0x6000001, 'telephone1', `bob ${i}`, Date.now() - 3_600_000)
      converges(s, name, doc, await send(s, name, bob, update))
    }
    expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields.telephone1).toBe('alice')
    expect(receiptsOn(s, 'u-bob', name).filter(r => r.reason === Reason.superseded).length).toBeLessThanOrEqual(5)
    expect(receiptsOn(s, 'u-bob', name).length).toBeLessThanOrEqual(5)
    // Entries are no refusals: the writer is not closed for them, and may still write.
    expect(bob.ws.readyState).toBe(1)
  })

  it('entries about another user\'s values stay within that user\'s quota, and never close that user', async () => {
    const s = await startServer(cleanups, { MAX_RECEIPTS_PER_RECORD: '3' })
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await raw(cleanups, s, name, 'alice')
    const bob = await raw(cleanups, s, name, 'bob')
    for (let i = 0; i < 8; i++) {
      // Alice writes on top of the record's value; bob overwrites it with a later write that had not seen hers.
      await send(s, name, alice, edit(copyOf(s, name, 0x5000002), d => setField(d, ACCOUNT, 'telephone1', `alice ${i}`, { by: 'u-alice', at: iso(Date.now() - 1000) })))
      const { doc, update } = concurrentWrite(s, name, 0x6000002, 'telephone1', `bob ${i}`, Date.now())
      converges(s, name, doc, await send(s, name, bob, update))
      expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields.telephone1).toBe(`bob ${i}`)
    }
    expect(receiptsOn(s, 'u-alice', name).length).toBeLessThanOrEqual(3)
    expect(alice.ws.readyState).toBe(1)
  })
})

describe('entries about a value its author may no longer read', () => {
  it('are not kept: they would show the author the value that won', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    await aliceWrites(s, name, 'telephone1', 'alice')
    expect((await api(s, 'avery', '/api/admin/users/u-alice/roles', { method: 'PUT', body: JSON.stringify({ roles: [] }) })).status).toBe(200)
    const bob = await raw(cleanups, s, name, 'bob')
    const { doc, update } = concurrentWrite(s, name, 0x6000008, 'telephone1', 'bob, secret', Date.now())
    converges(s, name, doc, await send(s, name, bob, update))
    expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields.telephone1).toBe('bob, secret')
    expect(receiptsOn(s, 'u-alice', name)).toEqual([])
  })
})

describe('a user who may not write sends concurrent writes', () => {
  it('is refused as before: a refusal receipt, no superseded entry for anyone, nothing visible changes', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    await aliceWrites(s, name, 'telephone1', 'alice')
    const erin = await raw(cleanups, s, name, 'erin')
    for (const [what, wall] of [['older', Date.now() - 3_600_000], ['newer', Date.now()]] as const) {
      const before = exactly(s.server.rooms.get(name).doc)
      const { doc, update } = concurrentWrite(s, name, 0x7000001, 'telephone1', `erin ${what}`, wall)
      converges(s, name, doc, await send(s, name, erin, update))
      expect(exactly(s.server.rooms.get(name).doc), what).toEqual(before)
      const mine = receiptsOn(s, 'u-erin', name).filter(r => r.attempted === `erin ${what}`)
      expect(mine.map(r => r.reason), what).toEqual([Reason.noWritePrivilege])
    }
    for (const u of ['u-alice', 'u-erin']) expect(receiptsOn(s, u, name).filter(r => r.reason === Reason.superseded), u).toEqual([])
  })

  it('cannot change or delete stamps, of any field whatever its strategy', async () => {
    const s = await withStrategies({ 'account.name': 'yjs' })
    const name = ownedBy(s, 'account', 'u-alice')
    await aliceWrites(s, name, 'telephone1', 'alice')
    await aliceWrites(s, name, 'name', 'Alice Inc')
    const erin = await raw(cleanups, s, name, 'erin')
    const attacks: [string, (d: Y.Doc) => void][] = [
      ['deletes a stamp', d => d.getMap(CLOCKS).delete('telephone1')],
      ['deletes a stamp of a yjs field', d => d.getMap(CLOCKS).delete('name')],
      ['stamps a yjs field with junk', d => d.getMap(CLOCKS).set('name', 'x'.repeat(5000))],
      ['writes a yjs field', d => d.transact(() => { d.getMap(FIELDS).set('name', 'erin'); d.getMap(CLOCKS).set('name', 'erin was here') })]
    ]
    for (const [what, make] of attacks) {
      const before = exactly(s.server.rooms.get(name).doc)
      const doc = copyOf(s, name, 0x7000002)
      converges(s, name, doc, await send(s, name, erin, edit(doc, make)))
      expect(exactly(s.server.rooms.get(name).doc), what).toEqual(before)
    }
  })
})

describe('crafted stamps from a writer', () => {
  it('a yjs field keeps no stamp that does not belong to the write (junk, another writer\'s), and stamps go only with kept writes', async () => {
    const s = await withStrategies({ 'account.name': 'yjs' })
    const name = ownedBy(s, 'account', 'u-alice')
    await aliceWrites(s, name, 'name', 'Alice Inc', 0x5000003)
    const bob = await raw(cleanups, s, name, 'bob')
    const client = 0x6000003
    const stampOf = (): unknown => s.server.rooms.get(name).doc.getMap(CLOCKS).get('name')
    const aliceStamp = stampOf()
    const attacks: [string, (d: Y.Doc) => void][] = [
      ['junk', d => d.transact(() => { d.getMap(FIELDS).set('name', 'Bob 1'); d.getMap(CLOCKS).set('name', 'j'.repeat(5000)) })],
      ['alice\'s writer', d => d.transact(() => { d.getMap(FIELDS).set('name', 'Bob 2'); d.getMap(CLOCKS).set('name', `${Date.now()}:0:${0x5000003}`) })],
      ['a stamp alone', d => d.getMap(CLOCKS).set('name', `${Date.now()}:0:${client}`)],
      ['a value that does not fit', d => d.transact(() => { d.getMap(FIELDS).set('name', 'n'.repeat(10_000)); d.getMap(CLOCKS).set('name', `${Date.now()}:0:${client}`) })]
    ]
    for (const [what, make] of attacks) {
      const before = stampOf()
      const doc = copyOf(s, name, client)
      converges(s, name, doc, await send(s, name, bob, edit(doc, make)))
      expect(stampOf(), what).toBe(before)
    }
    expect(aliceStamp).toBeDefined()
    // A well-formed stamp of the writer's own, with a kept write, stands.
    const doc = copyOf(s, name, client)
    converges(s, name, doc, await send(s, name, bob, edit(doc, d => setField(d, ACCOUNT, 'name', 'Bob Ltd', { by: 'u-bob', at: iso(Date.now()) }))))
    expect(String(stampOf())).toMatch(new RegExp(`^\\d+:\\d+:${client}( |$)`))
    expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).fields.name).toBe('Bob Ltd')
  })

  it('stamps of a secured field never stay in the record\'s document; junk stamps in the field\'s own document are not kept', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const bob = await raw(cleanups, s, name, 'bob')
    const doc = copyOf(s, name, 0x6000004)
    converges(s, name, doc, await send(s, name, bob, edit(doc, d => d.getMap(CLOCKS).set('revenue', `${Date.now()}:0:${0x6000004}`))))
    expect(s.server.rooms.get(name).doc.getMap(CLOCKS).has('revenue')).toBe(false)
    const fieldDoc = fieldDocName(name, 'revenue')
    const bobs = await raw(cleanups, s, fieldDoc, 'bob')
    const own = copyOf(s, fieldDoc, 0x6000005)
    converges(s, fieldDoc, own, await send(s, fieldDoc, bobs, edit(own, d => d.transact(() => { d.getMap(FIELDS).set('revenue', 1234); d.getMap(CLOCKS).set('revenue', 'junk '.repeat(1000)) }))))
    const room = s.server.rooms.get(fieldDoc).doc
    expect(room.getMap(FIELDS).get('revenue')).toBe(1234)
    expect(String(room.getMap(CLOCKS).get('revenue'))).toMatch(/^\d+:\d+:\d+( \d+:\d+:\d+)?$/)
  })
})

describe('a stamp alone', () => {
  it('that is not its writer\'s own is no write: the value stays (only a writer\'s own stamp alone clears)', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    await aliceWrites(s, name, 'telephone1', 'alice', 0x5000009)
    const bob = await raw(cleanups, s, name, 'bob')
    const before = exactly(s.server.rooms.get(name).doc)
    for (const stamp of [`${Date.now()}:0:${0x5000009}`, `${Date.now()}:0:1`, 'junk']) {
      const doc = copyOf(s, name, 0x6000009)
      converges(s, name, doc, await send(s, name, bob, edit(doc, d => d.getMap(CLOCKS).set('telephone1', stamp))))
      expect(exactly(s.server.rooms.get(name).doc), stamp).toEqual(before)
    }
  })
})

describe('a secured field\'s own document', () => {
  it('decides concurrent writes by clock like any field, and tells the loser', async () => {
    const s = await startServer(cleanups)
    const name = fieldDocName(ownedBy(s, 'account', 'u-alice'), 'revenue')
    const avery = await raw(cleanups, s, name, 'avery')
    const bob = await raw(cleanups, s, name, 'bob')
    const t0 = Date.now() - 60_000
    // Both write from the same copy; bob's edit is the later one but arrives first, under the lower client id.
    const averys = copyOf(s, name, 0x6000007)
    const bobs = copyOf(s, name, 0x6000006)
    // (The field's document has no meta: written as the record's fields are, value and stamp.)
    const write = (d: Y.Doc, value: number, by: string, at: number): void => d.transact(() => { d.getMap(FIELDS).set('revenue', value); stampField(d, 'revenue', { by, at: iso(at) }) })
    const fromBob = edit(bobs, d => write(d, 2000, 'u-bob', t0 + 1000))
    const fromAvery = edit(averys, d => write(d, 1000, 'u-avery', t0))
    converges(s, name, bobs, await send(s, name, bob, fromBob))
    converges(s, name, averys, await send(s, name, avery, fromAvery))
    expect(s.server.rooms.get(name).doc.getMap(FIELDS).get('revenue')).toBe(2000)
    expect(receiptsOn(s, 'u-avery', name).map(r => [r.reason, r.attempted, r.kept])).toEqual([[Reason.superseded, 1000, 2000]])
    expect(receiptsOn(s, 'u-bob', name)).toEqual([])
  })
})
