// What one device may have waiting for its session was bounded by a count of frames alone (4096), and a
// frame may be MAX_FRAME_BYTES (1 MiB): a device whose session was busy (a cycle waiting for the device to
// read, a slow commit) could make the server hold 4 GiB of its pushes, and a user may open many devices.
// Frames waiting are bounded in bytes too (MAX_WAITING_BYTES, 16 MiB, as a /sync connection's are): past
// it the socket closes with 4429. Through the session's entry for the socket's messages, with every frame
// handed over in one turn, before the session has taken any (as a socket's do while its session waits).

import { describe, expect, it } from 'vitest'
import { CloseCode } from '../../src/protocol/codes.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame } from '../../src/protocol/device-frames.ts'
import { DeviceSession, type DeviceDeps } from '../../src/server/device-session.ts'

/** README, "Security": the bytes of frames one device may have waiting for its session */
const MAX_WAITING_BYTES = 16 * 1024 * 1024

describe('frames a device has waiting', () => {
  it('are bounded in bytes: pushes of 1 MiB past 16 MiB close the socket with 4429', () => {
    const closes: number[] = []
    // Nothing here runs before the frames are all handed over: the session touches no dependency yet.
    const session = new DeviceSession({} as DeviceDeps, 'u-alice', () => {}, code => { closes.push(code) })
    session.receive(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: 'queue-bytes-1', cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
    const update = new Uint8Array(1024 * 1024 - 100)
    for (let i = 0; i * update.length <= MAX_WAITING_BYTES + update.length && closes.length === 0; i++) {
      session.receive(encodeDeviceFrame({ type: DeviceMessage.push, record: `account/queued${i}`, id: i + 1, update }))
    }
    expect(closes).toEqual([CloseCode.rateLimited])
    session.close()
  })
})
