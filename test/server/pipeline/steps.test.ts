// The four steps of the record pipeline, each on its own: Y.Docs and plain values in, plain values (or
// calls on recording members) out; no storage, no socket, no bytes of a wire format.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../../src/docs/catalog.ts'
import { createRecord, readRecord, setField } from '../../../src/docs/record.ts'
import { asRecordId } from '../../../src/ids.ts'
import { ModelIndex } from '../../../src/authz/decide.ts'
import { demoModel } from '../../../src/server/demo.ts'
import { CloseCode } from '../../../src/protocol/codes.ts'
import { EVERY_DEVICE, Reason, type Receipt } from '../../../src/protocol/receipts.ts'
import { DEFAULT_LIMITS, RecordQuotas } from '../../../src/server/quotas.ts'
import { check, type CheckContext } from '../../../src/server/pipeline/check.ts'
import { decide } from '../../../src/server/pipeline/decide.ts'
import { commitOf } from '../../../src/server/pipeline/commit.ts'
import { publish } from '../../../src/server/pipeline/publish.ts'
import { newBatch } from '../../../src/server/pipeline/batch.ts'
import type { ProjectContext } from '../../../src/projection/project.ts'
import { recordingMember } from '../../../tools/room-member.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const ix = new ModelIndex(demoModel(catalog))
const AT = '2026-11-27T09:00:00.000Z'
const NAME = 'account/p1'

/** A record owned by alice, written by the server under client id 7. */
const record = (): Y.Doc => {
  const doc = new Y.Doc()
  doc.clientID = 7
  createRecord(doc, account, { id: asRecordId('p1'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'Contoso' } }, { by: 'u-avery', at: AT })
  return doc
}

/** What a device under `client`, holding the record, sends after `f`. */
const edit = (doc: Y.Doc, client: number, f: (d: Y.Doc) => void): Uint8Array => {
  const d = new Y.Doc()
  Y.applyUpdate(d, Y.encodeStateAsUpdate(doc))
  d.clientID = client
  const sv = Y.encodeStateVector(d)
  f(d)
  return Y.encodeStateAsUpdate(d, sv)
}

const checkCtx = (principal: string, bindings: Map<number, string>, quotas = new RecordQuotas(DEFAULT_LIMITS, [], [])): CheckContext =>
  ({ principal, bindings, quotas, entity: account, layout: {} })

const receipt = (principal: string, field: string): Receipt =>
  ({ principal, record: NAME, change: 'update', field, attempted: 1, kept: null, reason: Reason.noWritePrivilege, message: 'no', privilegeVersion: 1, at: AT })

describe('check', () => {
  it('admits an update the record can take, naming its new client ids', () => {
    const doc = record()
    const u = edit(doc, 1000, d => setField(d, account, 'telephone1', '+47 1', { by: 'u-alice', at: AT }))
    const a = check(doc, u, checkCtx('u-alice', new Map([[7, '@server']])))
    expect(a).toMatchObject({ ok: true, fresh: [1000] })
  })

  it('tells each reason an update is not decided apart', () => {
    const doc = record()
    const first = edit(doc, 1000, d => setField(d, account, 'telephone1', '+47 1', { by: 'u-alice', at: AT }))
    const ahead = new Y.Doc()
    Y.applyUpdate(ahead, Y.encodeStateAsUpdate(doc))
    Y.applyUpdate(ahead, first)
    const second = edit(ahead, 1000, d => setField(d, account, 'telephone1', '+47 2', { by: 'u-alice', at: AT }))
    const bindings = new Map([[7, '@server'], [1000, 'u-alice']])
    // depends on the first, which the record does not have
    expect(check(doc, second, checkCtx('u-alice', bindings))).toMatchObject({ ok: false, problem: 'missing-dependencies' })
    expect(check(doc, new Uint8Array([1, 2, 3]), checkCtx('u-alice', bindings))).toMatchObject({ ok: false, problem: 'malformed' })
    // alice's client id, used by carol
    expect(check(doc, first, checkCtx('u-carol', bindings))).toEqual({ ok: false, problem: 'foreign-client', client: 1000 })
    const full = new RecordQuotas({ ...DEFAULT_LIMITS, clientIdsPerRecord: 0 }, [], [])
    expect(check(doc, first, checkCtx('u-alice', new Map([[7, '@server']]), full))).toMatchObject({ ok: false, problem: 'too-many-clients' })
    const bogus = edit(doc, 1001, d => d.getMap('fields').set('bogus_key', 1))
    expect(check(doc, bogus, checkCtx('u-alice', bindings))).toMatchObject({ ok: false, problem: 'outside-layout', path: 'fields.bogus_key' })
    // nothing of it touched the record
    expect(readRecord(doc, account).fields.telephone1).toBeUndefined()
  })
})

describe('quotas', () => {
  it('take what storage counts (every instance\'s commits) in place of what was counted, client ids kept', () => {
    const q = new RecordQuotas({ ...DEFAULT_LIMITS, receiptsPerRecord: 5, refusedBytesPerRecord: 2048, clientIdsPerRecord: 2 }, [{ principal: 'u-nina', receipts: 1, refusedBytes: 10 }], ['u-nina'])
    q.add('u-erin', { receipts: 3 })
    q.setUsage([{ principal: 'u-nina', receipts: 5, refusedBytes: 100 }])
    expect(q.exceeded('u-nina', { receipts: 1 })).toMatch(/at most 5 receipts/)
    expect(q.exceeded('u-nina', { refusedBytes: 1948 })).toBeNull()
    expect(q.exceeded('u-nina', { refusedBytes: 1949 })).toMatch(/bytes of partly refused/)
    expect(q.exceeded('u-erin', { receipts: 5 })).toBeNull() // absent from storage: nothing kept
    expect(q.exceeded('u-nina', { clientIds: 2 })).toMatch(/client ids/)
  })
})

describe('decide', () => {
  const ctx = (userId: string): ProjectContext => ({ entity: account, record: NAME, userId, ix, now: AT, isServerClient: c => c === 7 })

  it('integrates what the user may do and nothing refused', () => {
    const doc = record()
    const u = edit(doc, 1000, d => setField(d, account, 'telephone1', '+47 alice', { by: 'u-alice', at: AT }))
    const d = decide(doc, u, ctx('u-alice'), null, AT, () => true)
    expect(d.refused).toBe(false)
    expect(d.integrated).not.toBeNull()
    expect(readRecord(doc, account).fields.telephone1).toBe('+47 alice')
  })

  it('compensates a read-only user\'s write in the same update: refused, with a receipt, the value not kept', () => {
    const doc = record()
    const u = edit(doc, 2000, d => setField(d, account, 'telephone1', '+47 erin', { by: 'u-erin', at: AT }))
    const d = decide(doc, u, ctx('u-erin'), null, AT, () => false)
    expect(d.refused).toBe(true)
    expect(d.result.receipts).toHaveLength(1)
    expect(d.result.receipts[0]).toMatchObject({ principal: 'u-erin', field: 'telephone1' })
    expect(readRecord(doc, account).fields.telephone1).toBeUndefined()
    // the integrated update, applied to a copy of the record as it was, carries no refused value
    const replica = record()
    Y.applyUpdate(replica, d.integrated!)
    expect(readRecord(replica, account).fields.telephone1).toBeUndefined()
  })

  it('takes in nothing from an update sent again', () => {
    const doc = record()
    const u = edit(doc, 1000, d => setField(d, account, 'telephone1', '+47 alice', { by: 'u-alice', at: AT }))
    decide(doc, u, ctx('u-alice'), null, AT, () => true)
    expect(decide(doc, u, ctx('u-alice'), null, AT, () => true)).toMatchObject({ integrated: null, refused: false })
  })
})

describe('commit', () => {
  it('keeps nothing for an empty batch, and reads the row only when an update is kept', () => {
    let rows = 0
    const row = () => { rows++; return { entity: 'account', id: 'p1', values: null } }
    expect(commitOf(newBatch(), row)).toBeNull()
    const batch = newBatch()
    batch.bindings.push({ client: 1000, principal: 'u-alice' })
    expect(commitOf(batch, row)).toMatchObject({ updates: [], effects: { bindings: [{ client: 1000, principal: 'u-alice' }], row: undefined } })
    expect(rows).toBe(0)
  })

  it('keeps the updates in order and routes each receipt to its device\'s inbox (another user\'s to every device)', () => {
    const doc = record()
    const a = edit(doc, 1000, d => setField(d, account, 'telephone1', '+47 1', { by: 'u-alice', at: AT }))
    const b = edit(doc, 1001, d => setField(d, account, 'websiteurl', 'https://example.com', { by: 'u-carol', at: AT }))
    const device = recordingMember('u-alice', { device: 'device-alice-1' })
    const socket = recordingMember('u-carol')
    const batch = newBatch()
    batch.accepted.push({ member: device, update: a, echo: false }, { member: socket, update: b, echo: false })
    batch.receipts.push({ member: device, receipt: receipt('u-alice', 'x') }, { member: socket, receipt: receipt('u-carol', 'y') }, { member: null, receipt: receipt('u-nina', 'z') })
    const c = commitOf(batch, () => ({ entity: 'account', id: 'p1', values: null }))!
    expect(c.effects.receipts!.map(r => r.device)).toEqual(['device-alice-1', undefined, EVERY_DEVICE])
    expect(c.effects.row).toEqual({ entity: 'account', id: 'p1', values: null })
    const replica = record()
    for (const u of c.updates) Y.applyUpdate(replica, u)
    expect(readRecord(replica, account).fields).toMatchObject({ telephone1: '+47 1', websiteurl: 'https://example.com' })
  })
})

describe('publish', () => {
  it('closes first, then updates and single members\' messages in batch order, then receipts to whom they belong', () => {
    const events: { who: string, what: string }[] = []
    const member = (who: string, principal: string) => {
      const m = recordingMember(principal)
      return { ...m, update: (_u: Uint8Array, why: string) => events.push({ who, what: `update ${why}` }), needState: () => events.push({ who, what: 'need-state' }), receipts: (l: readonly Receipt[]) => events.push({ who, what: `receipts ${l.map(r => r.field).join()}` }), close: (code: number) => events.push({ who, what: `close ${code}` }) }
    }
    const alice = member('alice', 'u-alice')
    const alice2 = member('alice2', 'u-alice')
    const erin = member('erin', 'u-erin')
    const left = member('left', 'u-alice')
    const batch = newBatch()
    const u = new Uint8Array([0, 0])
    batch.accepted.push({ member: alice, update: u, echo: false }, { member: null, update: u, echo: true })
    batch.direct.push({ member: erin, message: { kind: 'revert', update: u }, at: 1 }, { member: erin, message: { kind: 'need-state' }, at: 2 }, { member: left, message: { kind: 'need-state' }, at: 2 })
    batch.closes.push({ member: erin, code: CloseCode.rateLimited, reason: 'too many' })
    batch.receipts.push({ member: erin, receipt: receipt('u-erin', 'e') }, { member: null, receipt: receipt('u-alice', 'a') })
    const stored = batch.receipts.map(r => ({ ...r.receipt, seq: 1 }))
    let vectors = 0
    publish(batch, stored, new Set([alice, alice2, erin]), () => { vectors++; return new Uint8Array([0]) })
    expect(events).toEqual([
      { who: 'erin', what: `close ${CloseCode.rateLimited}` },
      // alice's own update is not echoed to her (no compensation); the server's is, to everyone
      { who: 'alice2', what: 'update published' }, { who: 'erin', what: 'update published' },
      { who: 'erin', what: 'update revert' },
      { who: 'alice', what: 'update published' }, { who: 'alice2', what: 'update published' }, { who: 'erin', what: 'update published' },
      { who: 'erin', what: 'need-state' },
      { who: 'erin', what: 'receipts e' },
      // a receipt about another user's value goes to each of that user's members
      { who: 'alice', what: 'receipts a' }, { who: 'alice2', what: 'receipts a' }
    ])
    expect(vectors).toBe(1) // read when published, for members still there only
  })
})
