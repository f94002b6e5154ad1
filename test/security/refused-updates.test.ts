// Refused updates cost only their sender: one that breaks its own processing never takes the record or
// another user's edit with it; one whose every change is refused leaves no trace (nothing stored,
// broadcast or bound) while its sender gets receipts and converges; what a user may make the server
// keep is bounded; the server writes only under its own bound client id.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { CloseCode, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { SERVER_CLIENT_RANGE, SERVER_PRINCIPAL } from '../../src/server/room.ts'
import { recordingMember } from '../../tools/room-member.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import type { DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, copyOf, edit, open, ownedBy, raw, startServer, TIME } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()
const as = (userId: string) => ({ by: userId, at: TIME })

describe('one bad update costs only its sender', () => {
  it('a read-only user setting a field to a Y.Map from an old copy under a low client id: refused, the room and a colleague\'s edit in the same batch unharmed', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const watcher = await open(cleanups, s, name, 'avery')
    const erin = await raw(cleanups, s, name, 'erin')
    // Erin's write is compensated first (the shadowed-write path then has something to restore).
    const old = copyOf(s, name, 7)
    erin.update(edit(copyOf(s, name, 9), d => setField(d, account, 'name', 'erin was here', as('u-erin'))))
    await until(() => erin.receipts().length === 1, 'erin\'s first write refused')
    const attack = edit(old, d => d.getMap('fields').set('name', new Y.Map()))
    const room = s.server.rooms.get(name)
    const stateBefore = Y.encodeStateAsUpdate(room.doc).length
    // Erin's attack and alice's edit in ONE batch of the record's pipeline.
    const pe = recordingMember('u-erin')
    const pa = recordingMember('u-alice')
    room.join(pe)
    room.join(pa)
    const alice = copyOf(s, name)
    void room.submit(pe, attack)
    void room.submit(pa, edit(alice, d => setField(d, account, 'telephone1', '+47 alice', as('u-alice'))))
    await room.settled()
    room.leave(pe)
    room.leave(pa)
    expect(room.isBroken).toBe(false)
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 alice')
    expect(s.projection.row('account', name.split('/')[1])?.telephone1).toBe('+47 alice')
    await until(() => readRecord(watcher.doc, account).fields.telephone1 === '+47 alice', 'the watcher gets alice\'s edit', [watcher.doc])
    expect(watcher.p.wsconnected).toBe(true)
    expect(room.doc.getMap('fields').get('name')).toBe(readRecord(watcher.doc, account).fields.name)
    expect(Y.encodeStateAsUpdate(room.doc).length).toBeLessThan(stateBefore + 200)
    // Over the socket too: refused with a receipt, nobody else closed.
    erin.update(attack)
    await until(() => erin.receipts().some(r => r.field === 'fields.name'), 'a receipt naming the nested type')
    expect(erin.receipts().find(r => r.field === 'fields.name')).toMatchObject({ reason: 'invalid-value', change: 'update' })
    expect(watcher.p.wsconnected).toBe(true)
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
  })
})

describe('an update whose every change is refused leaves no trace', () => {
  it('keeps no refused value (stored or broadcast); its sender gets receipts and converges, and an allowed edit after it lands', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const watcher = await open(cleanups, s, name, 'avery')
    const erin = await open(cleanups, s, name, 'erin', new Y.Doc(), { receipts: '1' })
    const before = readRecord(erin.doc, account)
    const seen: Uint8Array[] = []
    watcher.doc.on('update', (u: Uint8Array) => { seen.push(u) })
    setField(erin.doc, account, 'name', 'erin renamed it', as('u-erin'))
    await until(() => readRecord(erin.doc, account).fields.name === before.fields.name, 'erin\'s copy reverted', [erin.doc])
    expect(readRecord(erin.doc, account)).toEqual(before)
    const got = await (await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${await s.token('erin')}` } })).json() as { receipts: Receipt[] }
    expect(got.receipts.map(r => [r.record, r.field, r.reason])).toEqual([[name, 'name', 'no-write-privilege']])
    // What the record keeps of it are content-free placeholders: the value is in no stored or broadcast byte.
    const stored = await s.storage.load(name)
    for (const u of [...stored.updates.map(x => x.data), ...seen]) expect(Buffer.from(u).includes('erin renamed it')).toBe(false)
    expect(readRecord(watcher.doc, account)).toEqual(before)
    // Alice writes a secured field (refused whole), then, on the same document, a field she may: it lands.
    const alice = await open(cleanups, s, name, 'alice')
    setField(alice.doc, account, 'revenue', 123, as('u-alice'))
    await until(() => alice.doc.getMap('fields').get('revenue') === watcher.doc.getMap('fields').get('revenue'), 'alice\'s copy reverted', [alice.doc])
    setField(alice.doc, account, 'telephone1', '+47 later', as('u-alice'))
    await until(() => readRecord(erin.doc, account).fields.telephone1 === '+47 later', 'erin receives alice\'s later edit', [erin.doc])
    expect(s.projection.row('account', name.split('/')[1])?.telephone1).toBe('+47 later')
    expect(readRecord(alice.doc, account)).toEqual(readRecord(watcher.doc, account))
  })

  it('unknown keys in refused updates do not grow the record, and receipts, bindings and refusals are bounded', async () => {
    const s = await startServer(cleanups, { MAX_RECEIPTS_PER_RECORD: '20', MAX_CLIENT_IDS_PER_RECORD: '3', REFUSED_UPDATES_BURST: '1000' })
    const name = ownedBy(s, 'account', 'u-alice')
    const room = s.server.rooms.get(name)
    const erin = await raw(cleanups, s, name, 'erin')
    const size = Y.encodeStateAsUpdate(room.doc).length
    for (let i = 0; i < 5; i++) {
      erin.update(edit(copyOf(s, name), d => d.transact(() => { for (let k = 0; k < 5000; k++) d.getMap('fields').set(`junk${i}_${k}`, 'x'.repeat(20)) })))
    }
    await until(() => erin.receipts().length === 5, 'one receipt per refused update')
    expect(Y.encodeStateAsUpdate(room.doc).length).toBe(size)
    expect((await s.storage.load(name)).bindings.filter(b => b.principal === 'u-erin')).toEqual([])
    // Refused writes pile up receipts only to the bound, then the socket closes with 4413.
    for (let i = 0; i < 30; i++) erin.update(edit(copyOf(s, name), d => setField(d, account, 'name', `n${i}`, as('u-erin'))))
    expect((await erin.closed).code).toBe(CloseCode.quotaExceeded)
    const kept = s.storage.receipts('u-erin', 0, 1000).filter(r => r.record === name)
    expect(kept.length).toBeLessThanOrEqual(21)
    expect(kept.at(-1)?.reason).toBe('quota-exceeded')
    // The refused writes kept only placeholders, within the bound.
    expect(Y.encodeStateAsUpdate(room.doc).length).toBeLessThan(size + 64 * 1024)
    // Client ids: alice may bring at most 3 new ones into the record.
    const alice = await raw(cleanups, s, name, 'alice')
    for (let i = 0; i < 4; i++) alice.update(edit(copyOf(s, name, 5000 + i), d => setField(d, account, 'telephone1', `+47 ${i}`, as('u-alice'))))
    expect((await alice.closed).code).toBe(CloseCode.quotaExceeded)
    expect((await s.storage.load(name)).bindings.filter(b => b.principal === 'u-alice').length).toBe(3)
  })

  it('a read-only user setting values to what they are (no change to refuse) is bounded by the same quota', async () => {
    const s = await startServer(cleanups, { MAX_REFUSED_BYTES_PER_RECORD: '4096', REFUSED_UPDATES_BURST: '100000' })
    const name = ownedBy(s, 'account', 'u-alice')
    const room = s.server.rooms.get(name)
    const erin = await raw(cleanups, s, name, 'erin')
    const size = Y.encodeStateAsUpdate(room.doc).length
    const value = readRecord(room.doc, account).fields.name
    // Same-value writes without stamps: nothing visible changes, so no receipt; each still costs bytes.
    const copy = copyOf(s, name)
    for (let i = 0; i < 400; i++) erin.update(edit(copy, d => d.getMap('fields').set('name', value)))
    expect((await erin.closed).code).toBe(CloseCode.quotaExceeded)
    expect(Y.encodeStateAsUpdate(room.doc).length).toBeLessThan(size + 4096 + 200)
    expect(readRecord(room.doc, account).fields.name).toBe(value)
  })

  it('refusals in quick succession past the burst close the socket with 4429', async () => {
    const s = await startServer(cleanups, { REFUSED_UPDATES_BURST: '5', REFUSED_UPDATES_PER_SECOND: '1' })
    const name = ownedBy(s, 'account', 'u-alice')
    const erin = await raw(cleanups, s, name, 'erin')
    for (let i = 0; i < 20; i++) erin.update(edit(copyOf(s, name), d => setField(d, account, 'name', `n${i}`, as('u-erin'))))
    expect((await erin.closed).code).toBe(CloseCode.rateLimited)
  })
})

describe('the revert a refused update\'s sender gets', () => {
  it('builds only on what the record holds, also when the projection restored a shadowed write first (fuzz SEED=10)', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-carol')
    const room = s.server.rooms.get(name)
    const carol = await raw(cleanups, s, name, 'carol')
    const stale = copyOf(s, name)
    // A secured write with an allowed one: the server compensates revenue under its own client id.
    carol.update(edit(copyOf(s, name), d => d.transact(() => {
      setField(d, account, 'revenue', 1, as('u-carol'))
      setField(d, account, 'telephone1', '+47 carol', as('u-carol'))
    })))
    await until(() => readRecord(room.doc, account).fields.telephone1 === '+47 carol' && carol.receipts().length === 1, 'the compensation')
    await room.settled()
    // From the older copy, revenue alone: it lands behind the compensation, the projection writes it again under
    // the server's id to decide it, and the update is refused whole.
    const mine = new Y.Doc()
    Y.applyUpdate(mine, Y.encodeStateAsUpdate(stale))
    const from = carol.messages.length
    carol.update(edit(mine, d => setField(d, account, 'revenue', 2, as('u-carol'))))
    carol.ws.send(encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(mine)))
    await until(() => carol.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2) && carol.receipts().length === 2, 'refused, and the sync reply')
    expect(carol.receipts()[1]).toMatchObject({ field: 'revenue', reason: 'field-secured' })
    applyReceived(mine, carol.messages.slice(from))
    expect(mine.store.pendingStructs).toBeNull()
    expect(readRecord(mine, account)).toEqual(readRecord(room.doc, account))
  })
})

describe('the server\'s own client id', () => {
  it('stays one id of its range, bound to the server, across compensations; an update under it is refused before Yjs sees it', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await open(cleanups, s, name, 'alice')
    const room = s.server.rooms.get(name as DocName)
    for (let i = 0; i < 4; i++) {
      // A system field and an allowed one together: the system field is compensated by the server.
      alice.doc.transact(() => {
        alice.doc.getMap('meta').set('createdon', `2020-01-0${i + 1}T00:00:00.000Z`)
        setField(alice.doc, account, 'telephone1', `+47 ${i}`, as('u-alice'))
      })
      await until(() => s.projection.row('account', name.split('/')[1])?.telephone1 === `+47 ${i}` && alice.doc.getMap('meta').get('createdon') === room.doc.getMap('meta').get('createdon'), `compensation ${i}`, [alice.doc])
    }
    const server = room.doc.clientID
    expect(server).toBeGreaterThan(0)
    expect(server).toBeLessThan(SERVER_CLIENT_RANGE)
    const writers = [...room.doc.store.clients.keys()].filter(c => c < SERVER_CLIENT_RANGE)
    expect(writers).toEqual([server])
    expect((await s.storage.load(name)).bindings).toContainEqual({ client: server, principal: SERVER_PRINCIPAL })
    // Someone writing under the server's id: refused, the server keeps its id.
    const forger = await raw(cleanups, s, name, 'avery')
    const forged = copyOf(s, name, server)
    forger.update(edit(forged, d => setField(d, account, 'name', 'forged', as('u-avery'))))
    await until(() => forger.receipts().length === 1, 'refused')
    expect(forger.receipts()[0].reason).toBe('foreign-client-id')
    expect(room.doc.clientID).toBe(server)
    expect(readRecord(room.doc, account).fields.name).not.toBe('forged')
    expect(room.doc.store.pendingStructs).toBeNull()
    applyReceived(new Y.Doc(), forger.messages)
  })
})
