// "PATCH /api/admin/users/<id> with {disabled: true} ... ends every sign-in of the user" and "enabling
// again does not bring old sessions back". Sockets of a disabled user are left open for a moment so that
// their evictions reach them (the user holds no privileges, so nothing else does). But nothing closed them
// afterwards: when the administrator enabled the user again (a new phone, the old one still connected),
// the old phone's /device socket, opened with a token of an ended sign-in, got its privileges back and
// synced every record of the user again, and took edits in the user's name, until that token expired.

import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, holdingsDigest, readDeviceFrame, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, startServer } from './support.ts'

const cleanups = useCleanups()

describe('a user disabled and enabled again', () => {
  it('does not get the sockets of the ended sign-ins back: they close with 4401', async () => {
    const s = await startServer(cleanups)
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${await s.token('alice')}`)
    ws.on('error', () => {})
    cleanups.push(() => ws.terminate())
    const frames: DeviceFrame[] = []
    ws.on('message', (data: Buffer) => { const d = decoding.createDecoder(new Uint8Array(data)); while (decoding.hasContent(d)) frames.push(readDeviceFrame(d)) })
    let closed: number | undefined
    ws.on('close', code => { closed = code })
    await new Promise(resolve => ws.on('open', resolve))
    const send = (f: DeviceFrame): void => ws.send(encodeDeviceFrame(f))
    const syncNow = (request: number): void => send({ type: DeviceMessage.syncNow, request, count: 0, digest: holdingsDigest([]), receiptSeq: 0 })
    const done = (request: number): boolean => frames.some(f => f.type === DeviceMessage.done && f.request === request)
    send({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: 'old-phone-1', cursor: 0, privilegeVersion: 0, metadataDigest: 0 })
    syncNow(1)
    await until(() => done(1), 'the first cycle')
    expect(frames.some(f => f.type === DeviceMessage.sync)).toBe(true)

    const patch = (disabled: boolean): Promise<Response> => api(s, 'avery', '/api/admin/users/u-alice', { method: 'PATCH', body: JSON.stringify({ disabled }) })
    expect((await patch(true)).status).toBe(200)
    await until(() => closed !== undefined || frames.some(f => f.type === DeviceMessage.evict), 'the records leave the old phone')
    expect((await patch(false)).status).toBe(200)
    const seen = frames.length
    if (closed === undefined) {
      // Still open: ask for the user's records as the old phone would at its next cycle.
      syncNow(2)
      await until(() => closed !== undefined || done(2), 'the old phone closed, or its cycle ended')
    }
    expect(frames.slice(seen).filter(f => f.type === DeviceMessage.sync)).toEqual([])
    expect(closed).toBe(CloseCode.tokenExpired)
  })
})
