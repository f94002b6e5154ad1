// What a refused change makes the server keep is bounded per user and record: receipts (1,000) and the
// bytes of refused updates (64 KiB). But a receipt keeps what the change tried — the value, the note, the
// command — whatever its size, and the refused bytes count what the record keeps (placeholders without the
// value), not the receipt: erin, who may write nothing, could store a receipt of nearly a megabyte (a frame)
// for each refused write, a gigabyte per record she may read, and every record was hers to read. One page of
// GET /api/receipts, or one device cycle, then read all of it at once. The same through a name outside the
// layout (a root or a key of any length, named by the receipt) and a command's name.

import { describe, expect, it } from 'vitest'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { MAX_RECEIPT_BYTES } from '../../src/server/quotas.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, edit, ownedBy, raw, rawDevice, receiptsOn, sendSettled, startServer } from './support.ts'

const cleanups = useCleanups()
const bytes = (r: Receipt): number => Buffer.byteLength(JSON.stringify(r))

describe('a receipt', () => {
  it('keeps at most MAX_RECEIPT_BYTES of what a refused change tried, however large the change', async () => {
    const s = await startServer(cleanups)
    const account = ownedBy(s, 'account', 'u-alice')
    const lead = ownedBy(s, 'lead', 'u-alice')
    const big = 'x'.repeat(900_000)

    // erin (read only) writes values of ~900 KB: a field, a memo, a note, a root and a key outside the layout.
    const sock = await raw(cleanups, s, account, 'erin')
    // (Each from a fresh copy: what the server refuses whole it does not hold, and a later edit of the same copy would depend on it.)
    let client = 0x6100001
    const write = (f: Parameters<typeof edit>[1]) => sendSettled(s, account, sock, edit(copyOf(s, account, client++), f))
    await write(d => { d.getMap('fields').set('name', big) })
    await write(d => { d.getText('memo:description').insert(0, big) })
    await write(d => { d.getMap('fields').set(`k${big}`, 1) })
    await write(d => { d.getMap(`r${big}`).set('k', 1) })
    // and an ordinary refused write, whose receipt keeps its value whole
    await write(d => { d.getMap('fields').set('name', 'Erin was here') })
    // A command whose name is ~500 KB (not an offline command: rejected, its part integrated and reverted).
    const device = await rawDevice(cleanups, s, 'erin', 'device-erin-sizes')
    const part = edit(copyOf(s, lead, client++), d => { d.getMap('fields').set('subject', 'changed by erin') })
    device.send({ type: DeviceMessage.command, command: 'c'.repeat(500_000), target: lead, parts: [{ record: lead, id: 1, update: part }] })
    await until(() => device.frames.some(f => f.type === DeviceMessage.ack) || device.ws.readyState > 1, 'the command answered')

    const stored = [...receiptsOn(s, 'u-erin', account), ...receiptsOn(s, 'u-erin', lead)]
    expect(stored.length).toBe(6)
    for (const r of stored) expect(bytes(r), `${r.change} ${r.reason} (${String(r.field).slice(0, 20)})`).toBeLessThanOrEqual(MAX_RECEIPT_BYTES)
    // Each still says what was refused and why; a cut one says it was cut, and keeps the value's start.
    const [field, memo, key, root, plain] = receiptsOn(s, 'u-erin', account)
    expect(field).toMatchObject({ change: 'field-set', field: 'name', reason: 'no-write-privilege', truncated: true })
    expect(String(field.attempted).startsWith('xxxx')).toBe(true)
    expect(memo).toMatchObject({ change: 'text-edited', field: 'description', truncated: true })
    expect(key).toMatchObject({ reason: 'invalid-value', truncated: true })
    expect(root).toMatchObject({ reason: 'invalid-value', truncated: true })
    expect(plain).toMatchObject({ change: 'field-set', field: 'name', attempted: 'Erin was here', reason: 'no-write-privilege' })
    expect(plain).not.toHaveProperty('truncated')
    const [command] = receiptsOn(s, 'u-erin', lead)
    expect(command).toMatchObject({ change: 'command', reason: 'command-not-offline', truncated: true })
    // What one page of receipts weighs.
    const page = await (await api(s, 'erin', '/api/receipts?limit=1000')).text()
    expect(page.length).toBeLessThanOrEqual(6 * MAX_RECEIPT_BYTES + 1024)
  })
})
