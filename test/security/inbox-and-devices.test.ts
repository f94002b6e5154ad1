// Attacks on the per-device inbox (issue 10): `POST /api/receipts/dismiss` touches only the caller's own
// receipts and refuses bad bodies naming the field; a device id belongs to the user who first used it, so
// another user's hello with it is closed without taking the session or any receipt; a new device is
// offered its own user's open items only. Through a real server, raw HTTP and raw /device sockets.

import { describe, expect, it } from 'vitest'
import * as decoding from 'lib0/decoding'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, readDeviceFrame, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, edit, ownedBy, raw, rawAt, receiptsOn, startServer, TIME, type Raw } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

/** `login`'s refused write to `record` over /sync: resolves once its receipt is stored. */
const refusedWrite = async (s: TestServer, login: string, userId: string, record: ReturnType<typeof ownedBy>, value: string): Promise<Receipt> => {
  const before = receiptsOn(s, userId, record).length
  const sock = await raw(cleanups, s, record, login)
  sock.update(edit(copyOf(s, record), d => setField(d, account, 'telephone1', value, { by: userId, at: TIME })))
  await until(() => receiptsOn(s, userId, record).length > before, `${login}'s refused write stored`)
  sock.ws.close()
  return receiptsOn(s, userId, record).at(-1)!
}

const dismissals = (s: TestServer): { seq: number, principal: string }[] =>
  s.sql<{ seq: number, principal: string }>('SELECT seq, principal FROM receipt_dismissals ORDER BY seq')

/** Every device frame a raw socket received (the server may pack several into one message). */
const framesOf = (sock: Raw): DeviceFrame[] => sock.messages.flatMap(m => {
  const d = decoding.createDecoder(m)
  const out: DeviceFrame[] = []
  while (decoding.hasContent(d)) out.push(readDeviceFrame(d))
  return out
})

const hello = (deviceId: string): Uint8Array =>
  encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId, cursor: 0, privilegeVersion: 0, metadataDigest: 0 })
const syncNow = (request: number): Uint8Array =>
  encodeDeviceFrame({ type: DeviceMessage.syncNow, request, count: 0, digest: 0, receiptSeq: 0 })

/** A raw /device socket as `login` that said hello as `deviceId` and asked for a cycle. */
const device = async (s: TestServer, login: string, deviceId: string): Promise<Raw> => {
  const sock = await rawAt(cleanups, `ws://127.0.0.1:${s.port}/device?token=${await s.token(login)}`)
  sock.ws.send(hello(deviceId))
  sock.ws.send(syncNow(1))
  return sock
}

const cycleDone = (sock: Raw, request: number): Promise<void> =>
  until(() => framesOf(sock).some(f => f.type === DeviceMessage.done && f.request === request), `done ${request}`)

const receiptsIn = (sock: Raw): Receipt[] =>
  framesOf(sock).flatMap(f => f.type === DeviceMessage.receipts ? JSON.parse(f.json) as Receipt[] : [])

describe('POST /api/receipts/dismiss', () => {
  it('dismisses only the caller\'s own receipts: another user\'s seqs change nothing and count 0', async () => {
    const s = await startServer(cleanups)
    const record = ownedBy(s, 'account', 'u-alice')
    const erins = await refusedWrite(s, 'erin', 'u-erin', record, '+47 erin')
    expect(s.storage.openReceipts('u-erin', 100).map(r => r.seq)).toEqual([erins.seq])
    // alice names erin's receipt (and seqs nobody has): nothing is dismissed, nothing stored.
    const res = await api(s, 'alice', '/api/receipts/dismiss', { method: 'POST', body: JSON.stringify({ seqs: [erins.seq, erins.seq, 999_999, Number.MAX_SAFE_INTEGER] }) })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ dismissed: 0 })
    expect(dismissals(s)).toEqual([])
    expect(s.storage.openReceipts('u-erin', 100).map(r => r.seq)).toEqual([erins.seq])
    // erin's own dismissal counts once, even named twice, and again is 0.
    const own = await api(s, 'erin', '/api/receipts/dismiss', { method: 'POST', body: JSON.stringify({ seqs: [erins.seq, erins.seq] }) })
    expect(await own.json()).toEqual({ dismissed: 1 })
    expect(dismissals(s)).toEqual([{ seq: erins.seq, principal: 'u-erin' }])
    expect(s.storage.openReceipts('u-erin', 100)).toEqual([])
    expect(await (await api(s, 'erin', '/api/receipts/dismiss', { method: 'POST', body: JSON.stringify({ seqs: [erins.seq] }) })).json()).toEqual({ dismissed: 0 })
  })

  it('answers 400 naming seqs for malformed bodies, and stores nothing', async () => {
    const s = await startServer(cleanups)
    const record = ownedBy(s, 'account', 'u-alice')
    const erins = await refusedWrite(s, 'erin', 'u-erin', record, '+47 erin')
    const bodies = [
      'not json', '', 'null', '[]', '{}', JSON.stringify({ seq: [erins.seq] }), JSON.stringify({ seqs: String(erins.seq) }),
      JSON.stringify({ seqs: [0] }), JSON.stringify({ seqs: [-1] }), JSON.stringify({ seqs: [1.5] }), JSON.stringify({ seqs: ['1'] }),
      JSON.stringify({ seqs: [null] }), JSON.stringify({ seqs: [{ seq: erins.seq }] }),
      // one past the limit, the rest valid: refused whole, the valid one not dismissed
      JSON.stringify({ seqs: [erins.seq, ...Array.from({ length: 1000 }, (_, i) => i + 1)] })
    ]
    for (const body of bodies) {
      const res = await api(s, 'erin', '/api/receipts/dismiss', { method: 'POST', body })
      expect(res.status, body.slice(0, 40)).toBe(400)
      expect(JSON.stringify(await res.json()), body.slice(0, 40)).toContain('seqs')
    }
    expect(dismissals(s)).toEqual([])
    expect(s.storage.openReceipts('u-erin', 100).map(r => r.seq)).toEqual([erins.seq])
    // Exactly the limit is accepted.
    const ok = await api(s, 'erin', '/api/receipts/dismiss', { method: 'POST', body: JSON.stringify({ seqs: [erins.seq, ...Array.from({ length: 999 }, (_, i) => 1_000_000 + i)] }) })
    expect(await ok.json()).toEqual({ dismissed: 1 })
  })

  it('refuses a body far larger than 1000 seqs can be before reading it whole', async () => {
    const s = await startServer(cleanups)
    // 1000 seqs of 16 digits fit in 17 KB; 8 MB of padding is not a dismissal.
    const body = `{"seqs": [1]${' '.repeat(8 * 1024 * 1024)}}`
    const res = await api(s, 'erin', '/api/receipts/dismiss', { method: 'POST', body })
    expect(res.status).toBe(413)
    expect(dismissals(s)).toEqual([])
  })
})

describe('device ids and the per-device inbox', () => {
  it('closes another user\'s hello with a device id already used (4400), keeps the owner\'s session, and gives the intruder none of the owner\'s receipts', async () => {
    const s = await startServer(cleanups)
    // alice has an open receipt (a write to nina's account, which she may read but not write).
    const ninasAccount = ownedBy(s, 'account', 'u-nina')
    const alices = await refusedWrite(s, 'alice', 'u-alice', ninasAccount, '+47 alice')
    const id = 'alice-phone-0001'
    const phone = await device(s, 'alice', id)
    await cycleDone(phone, 1)
    expect(receiptsIn(phone).map(r => r.seq)).toContain(alices.seq)

    const intruder = await device(s, 'nina', id)
    expect((await intruder.closed).code).toBe(CloseCode.malformed)
    expect(framesOf(intruder)).toEqual([])
    expect(s.sql('SELECT principal FROM devices WHERE device = ?', id)[0]).toEqual({ principal: 'u-alice' })
    // The owner's session was not replaced: it still answers a cycle.
    phone.ws.send(syncNow(2))
    await cycleDone(phone, 2)
    expect(phone.ws.readyState).toBe(phone.ws.OPEN)
  })

  it('offers a new device its own user\'s open items only, whichever user floods new device ids', async () => {
    const s = await startServer(cleanups)
    const alices = await refusedWrite(s, 'alice', 'u-alice', ownedBy(s, 'account', 'u-nina'), '+47 alice')
    const ninas = await refusedWrite(s, 'nina', 'u-nina', ownedBy(s, 'account', 'u-alice'), '+47 nina')
    const erins = await refusedWrite(s, 'erin', 'u-erin', ownedBy(s, 'account', 'u-alice'), '+47 erin')
    const tablet = await device(s, 'nina', 'nina-tablet-0001')
    await cycleDone(tablet, 1)
    expect(receiptsIn(tablet).map(r => r.seq)).toEqual([ninas.seq])
    expect(receiptsIn(tablet).map(r => r.seq)).not.toContain(alices.seq)
    expect(receiptsIn(tablet).map(r => r.seq)).not.toContain(erins.seq)
    // Many new device ids of one user: each gets only that user's items.
    for (let i = 0; i < 5; i++) {
      const d = await device(s, 'erin', `erin-flood-${String(i).padStart(4, '0')}`)
      await cycleDone(d, 1)
      expect(receiptsIn(d).map(r => r.seq)).toEqual([erins.seq])
      d.ws.close()
    }
  })
})
