// A process flow's stage may require a secured field, whose value lives in the field's own document
// (`<entity>/<id>/<attribute>`). The gate read only the record's document, so such a field always looked
// empty and no one could move the stage on, whatever they had set (found by an attacker helper). The gate
// now reads the value where it is kept, as business rules do.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIELDS, META, stampRecord } from '../../src/docs/record.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { fieldDocName, type DocName } from '../../src/ids.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, raw, receiptsOn, sendSettled, startServer } from './support.ts'

const cleanups = useCleanups()

/** The demo metadata plus a flow on account whose first stage requires the secured revenue. */
const metadataWithRevenueStage = (): string => {
  const m = JSON.parse(readFileSync(new URL('../../config/metadata.json', import.meta.url), 'utf8')) as { processFlows: unknown[] }
  m.processFlows.push({ entity: 'account', name: 'Account onboarding', stages: [{ name: 'Sized', required: ['revenue'] }, { name: 'Served', required: [] }] })
  const file = join(mkdtempSync(join(tmpdir(), 'fieldsync-flow-')), 'metadata.json')
  writeFileSync(file, JSON.stringify(m))
  return file
}

const send = sendSettled

const stageOf = (s: TestServer, name: DocName): unknown => s.projection.row('account', name.split('/')[1])?.activestage

describe('a stage that requires a secured field', () => {
  it('moves on once the field is set in its own document, and not while it is empty', async () => {
    const s = await startServer(cleanups, { METADATA: metadataWithRevenueStage() })
    const name = ownedBy(s, 'account', 'u-alice')
    const field = fieldDocName(name, 'revenue')
    const at = (): string => new Date().toISOString()
    const bob = await raw(cleanups, s, field, 'bob')
    const alice = await raw(cleanups, s, name, 'alice')
    const toStage = (stage: string, client: number): Uint8Array => edit(copyOf(s, name, client), d => { d.getMap(META).set('activestage', stage); stampRecord(d, { by: 'u-alice', at: at() }) })
    // bob (Finance: may update revenue) clears it; alice's move past "Sized" is refused.
    await send(s, field, bob, edit(copyOf(s, field, 0x7200001), d => d.getMap(FIELDS).delete('revenue')))
    expect(s.projection.row('account', name.split('/')[1])?.revenue ?? null).toBeNull()
    await send(s, name, alice, toStage('Sized', 0x7200009))
    expect(stageOf(s, name)).toBe('Sized')
    await send(s, name, alice, toStage('Served', 0x7200010))
    expect(stageOf(s, name)).toBe('Sized')
    expect(receiptsOn(s, 'u-alice', name).some(r => r.reason === Reason.businessRule)).toBe(true)
    // bob sets it: now the same move stands.
    await send(s, field, bob, edit(copyOf(s, field, 0x7200002), d => d.getMap(FIELDS).set('revenue', 250_000)))
    expect(s.projection.row('account', name.split('/')[1])?.revenue).toBe(250_000)
    await send(s, name, alice, toStage('Served', 0x7200011))
    expect(stageOf(s, name)).toBe('Served')
    expect(receiptsOn(s, 'u-alice', name).map(r => r.message)).toEqual(['stage Sized needs revenue before moving on'])
  })
})
