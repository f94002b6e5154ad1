// Business rules whose condition or action names a secured field (README, "Business rules"; DESIGN.md:
// "a change that violates a rule is rejected with the rule's message"). A secured field's value lives in
// its own document (`<entity>/<id>/<attribute>`); a save of that document is still a save of the record
// and must not break the entity's rules. The demo metadata's "Large accounts need a head count" (revenue
// >= 10,000,000 makes numberofemployees required) reads account.revenue, which is secured.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { clearField, FIELDS } from '../../src/docs/record.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { fieldDocName, type DocName } from '../../src/ids.ts'
import type { TestServer } from '../helpers/server.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, raw, receiptsOn, sendSettled, startServer } from './support.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!

const send = sendSettled

const row = (s: TestServer, name: DocName): Record<string, unknown> | undefined => s.projection.row('account', name.split('/')[1])

// Each document's decision reads the values kept in the other (src/projection/decide-changes.ts
// `elsewhere`): a loaded copy's, or else the record's row. A refusal whose rules read a field the user may
// not read says so in general words: the rule's own message would tell that field's value.
describe('a business rule that reads a secured field', () => {
  it('is enforced on a save of the field\'s own document: revenue of 20 million without a head count is refused', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const before = row(s, name)?.revenue as number
    expect(before).toBeLessThan(10_000_000)
    // alice clears the head count (allowed: the rule's condition does not hold).
    const alice = await raw(cleanups, s, name, 'alice')
    await send(s, name, alice, edit(copyOf(s, name, 0x7100001), d => clearField(d, ACCOUNT, 'numberofemployees', { by: 'u-alice', at: new Date().toISOString() })))
    expect(row(s, name)?.numberofemployees ?? null).toBeNull()
    // bob (Finance profile, may update revenue) writes 20 million into the field's own document.
    const field = fieldDocName(name, 'revenue')
    const bob = await raw(cleanups, s, field, 'bob')
    await send(s, field, bob, edit(copyOf(s, field, 0x7100002), d => d.getMap(FIELDS).set('revenue', 20_000_000)))
    // The save breaks "Large accounts need a head count": refused with the rule's reason, revenue unchanged.
    expect(row(s, name)?.revenue).toBe(before)
    expect(receiptsOn(s, 'u-bob', field).some(r => r.reason === Reason.businessRule)).toBe(true)
  })

  it('is enforced on a save of the record whose secured value makes the rule hold: the head count cannot be cleared', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const field = fieldDocName(name, 'revenue')
    const bob = await raw(cleanups, s, field, 'bob')
    // A head count first, then 20 million (allowed: the rule holds and is met).
    const alice = await raw(cleanups, s, name, 'alice')
    await send(s, name, alice, edit(copyOf(s, name, 0x7100003), d => d.getMap(FIELDS).set('numberofemployees', 50)))
    await send(s, field, bob, edit(copyOf(s, field, 0x7100004), d => d.getMap(FIELDS).set('revenue', 20_000_000)))
    expect(row(s, name)?.revenue).toBe(20_000_000)
    expect(row(s, name)?.numberofemployees).toBe(50)
    // alice clears the head count of a 20-million account: "numberofemployees is required".
    await send(s, name, alice, edit(copyOf(s, name, 0x7100005), d => clearField(d, ACCOUNT, 'numberofemployees', { by: 'u-alice', at: new Date().toISOString() })))
    expect(row(s, name)?.numberofemployees).toBe(50)
    const refusal = receiptsOn(s, 'u-alice', name).find(r => r.reason === Reason.businessRule)
    // alice may not read revenue: the refusal does not tell her the rule (which would tell her revenue is large).
    expect(refusal?.message).toMatch(/reads fields you may not read/)
    expect(refusal?.message).not.toMatch(/numberofemployees|head count|revenue/i)
  })

  it('reads the record from its row when only the field\'s document is loaded, and tells a user who reads every field the rule\'s message', async () => {
    const s = await startServer(cleanups, { IDLE_UNLOAD_MS: '10' })
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await raw(cleanups, s, name, 'alice')
    await send(s, name, alice, edit(copyOf(s, name, 0x7100006), d => clearField(d, ACCOUNT, 'numberofemployees', { by: 'u-alice', at: new Date().toISOString() })))
    alice.ws.close()
    await until(() => !s.server.rooms.has(name), 'the record unloaded')
    const before = row(s, name)?.revenue
    const field = fieldDocName(name, 'revenue')
    const bob = await raw(cleanups, s, field, 'bob')
    await send(s, field, bob, edit(copyOf(s, field, 0x7100007), d => d.getMap(FIELDS).set('revenue', 30_000_000)))
    expect(s.server.rooms.has(name)).toBe(false)
    expect(row(s, name)?.revenue).toBe(before)
    const refusal = receiptsOn(s, 'u-bob', field).find(r => r.reason === Reason.businessRule)
    expect(refusal?.message).toBe('numberofemployees is required')
    // A revenue the rule does not reach is kept.
    await send(s, field, bob, edit(copyOf(s, field, 0x7100008), d => d.getMap(FIELDS).set('revenue', 5_000_000)))
    expect(row(s, name)?.revenue).toBe(5_000_000)
  })

  it('sees a secured value committed a moment ago while its document is no longer loaded', async () => {
    const s = await startServer(cleanups, { IDLE_UNLOAD_MS: '10' })
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await raw(cleanups, s, name, 'alice')
    // A save of the record reads revenue (from the row: its document is not loaded).
    await send(s, name, alice, edit(copyOf(s, name, 0x7100009), d => d.getMap(FIELDS).set('numberofemployees', 50)))
    expect(row(s, name)?.numberofemployees).toBe(50)
    const field = fieldDocName(name, 'revenue')
    const bob = await raw(cleanups, s, field, 'bob')
    await send(s, field, bob, edit(copyOf(s, field, 0x710000a), d => d.getMap(FIELDS).set('revenue', 20_000_000)))
    bob.ws.close()
    await until(() => !s.server.rooms.has(field), 'the field\'s document unloaded')
    expect(row(s, name)?.revenue).toBe(20_000_000)
    await send(s, name, alice, edit(copyOf(s, name, 0x710000b), d => clearField(d, ACCOUNT, 'numberofemployees', { by: 'u-alice', at: new Date().toISOString() })))
    expect(row(s, name)?.numberofemployees).toBe(50)
    expect(receiptsOn(s, 'u-alice', name).some(r => r.reason === Reason.businessRule)).toBe(true)
  })

  it('tells a read-only user nothing of a rule over a secured field: the save is refused for want of a privilege, before any rule', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await raw(cleanups, s, name, 'alice')
    await send(s, name, alice, edit(copyOf(s, name, 0x710000c), d => d.getMap(FIELDS).set('numberofemployees', 50)))
    const field = fieldDocName(name, 'revenue')
    const bob = await raw(cleanups, s, field, 'bob')
    await send(s, field, bob, edit(copyOf(s, field, 0x710000d), d => d.getMap(FIELDS).set('revenue', 20_000_000)))
    // erin reads accounts and writes none: clearing the head count of a large account is refused for want of
    // the privilege, as on any account, and says nothing of the rule (which would tell her revenue is large).
    const erin = await raw(cleanups, s, name, 'erin')
    await send(s, name, erin, edit(copyOf(s, name, 0x710000e), d => clearField(d, ACCOUNT, 'numberofemployees', { by: 'u-erin', at: new Date().toISOString() })))
    expect(row(s, name)?.numberofemployees).toBe(50)
    const receipts = receiptsOn(s, 'u-erin', name)
    expect(receipts.length).toBeGreaterThan(0)
    expect(receipts.every(r => r.reason === Reason.noWritePrivilege)).toBe(true)
    expect(receipts.some(r => /rule|required|revenue/i.test(r.message))).toBe(false)
  })
})
