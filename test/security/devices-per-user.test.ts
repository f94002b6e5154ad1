// Each device id a user says hello with keeps a row and a copy of what the device holds (its records,
// cursor, receipt offer). Nothing bounded how many: one account could mint device ids without end, each
// one a full cycle of its scope stored server-side. A user keeps the MAX_DEVICES_PER_USER (20) devices
// that said hello most recently, plus any connected now; an older idle one is forgotten (a phone coming
// back after that is a new device to the server: it is sent its whole scope again, nothing is lost).

import { describe, expect, it } from 'vitest'
import * as decoding from 'lib0/decoding'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, readDeviceFrame, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { rawAt, startServer, type Raw } from './support.ts'

const cleanups = useCleanups()
/** a small MAX_DEVICES_PER_USER (default 20), so the test mints few ids */
const MAX_DEVICES_PER_USER = 4

const framesOf = (sock: Raw): DeviceFrame[] => sock.messages.flatMap(m => {
  const d = decoding.createDecoder(m)
  const out: DeviceFrame[] = []
  while (decoding.hasContent(d)) out.push(readDeviceFrame(d))
  return out
})

/** A raw /device socket of alice that said hello as `deviceId` and finished one full cycle. */
const cycled = async (s: TestServer, deviceId: string): Promise<Raw> => {
  const sock = await rawAt(cleanups, `ws://127.0.0.1:${s.port}/device?token=${await s.token('alice')}`)
  sock.ws.send(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId, cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
  sock.ws.send(encodeDeviceFrame({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: 0, receiptSeq: 0 }))
  await until(() => framesOf(sock).some(f => f.type === DeviceMessage.done && f.request === 1), `${deviceId}'s cycle`)
  return sock
}

const devicesOf = (s: TestServer, principal: string): string[] =>
  s.sql<{ device: string }>('SELECT device FROM devices WHERE principal = ? ORDER BY device', principal).map(r => r.device)
const heldRows = (s: TestServer, device: string): number =>
  Number(s.sql<{ n: number }>('SELECT count(*) AS n FROM device_records WHERE device = ?', device)[0].n)

describe('device ids per user', () => {
  it('are bounded: the oldest idle device is forgotten with what it held, a connected one is kept', async () => {
    const s = await startServer(cleanups, { MAX_DEVICES_PER_USER: String(MAX_DEVICES_PER_USER) })
    const id = (i: number): string => `minted-device-${String(i).padStart(3, '0')}`
    // The first device stays connected throughout.
    await cycled(s, id(0))
    expect(heldRows(s, id(0))).toBeGreaterThan(0)
    const extra = 5
    for (let i = 1; i <= MAX_DEVICES_PER_USER + extra; i++) {
      const sock = await cycled(s, id(i))
      sock.ws.close()
      await sock.closed
    }
    const kept = devicesOf(s, 'u-alice')
    expect(kept).toContain(id(0))
    expect(kept.length).toBeLessThanOrEqual(MAX_DEVICES_PER_USER + 1)
    // The newest are kept; the oldest idle ones are gone, their held records too.
    expect(kept).toContain(id(MAX_DEVICES_PER_USER + extra))
    for (let i = 1; i <= extra; i++) {
      expect(kept).not.toContain(id(i))
      expect(heldRows(s, id(i))).toBe(0)
    }

    // A forgotten device that comes back is served as a new one: its whole scope again.
    const back = await cycled(s, id(1))
    expect(framesOf(back).filter(f => f.type === DeviceMessage.sync).length).toBeGreaterThan(0)
    expect(devicesOf(s, 'u-alice')).toContain(id(1))
  })
})
