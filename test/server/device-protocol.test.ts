import { describe, expect, it } from 'vitest'
import * as prng from 'lib0/prng'
import { DeviceMessage, decodeDeviceFrame, encodeDeviceFrame, holdingsDigest, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { int, pick, withSeed, word, type Gen } from '../helpers/seed.ts'

const randomFrame = (gen: Gen): DeviceFrame => {
  const n = (): number => int(gen, 0, 2 ** 31)
  const bytes = (): Uint8Array => prng.uint8Array(gen, int(gen, 0, 64))
  switch (pick(gen, Object.values(DeviceMessage))) {
    case DeviceMessage.hello: return { type: DeviceMessage.hello, version: n(), deviceId: word(gen), cursor: n(), privilegeVersion: n(), metadataDigest: n() }
    case DeviceMessage.metadata: return { type: DeviceMessage.metadata, json: word(gen) }
    case DeviceMessage.sync: return { type: DeviceMessage.sync, record: word(gen), step: int(gen, 0, 2), payload: bytes() }
    case DeviceMessage.ack: return { type: DeviceMessage.ack, record: word(gen), id: n() }
    case DeviceMessage.receipts: return { type: DeviceMessage.receipts, json: word(gen) }
    case DeviceMessage.evict: return { type: DeviceMessage.evict, record: word(gen), reason: word(gen) }
    case DeviceMessage.progress: return { type: DeviceMessage.progress, done: n(), total: n(), bytes: n() }
    case DeviceMessage.done: return { type: DeviceMessage.done, cursor: n(), request: n(), receiptSeq: n() }
    case DeviceMessage.syncNow: return { type: DeviceMessage.syncNow, request: n(), count: n(), digest: holdingsDigest([word(gen)]), receiptSeq: n() }
    case DeviceMessage.push: return { type: DeviceMessage.push, record: word(gen), id: n(), update: bytes() }
    case DeviceMessage.command: return {
      type: DeviceMessage.command, command: word(gen), target: word(gen),
      parts: Array.from({ length: int(gen, 0, 4) }, () => ({ record: word(gen), id: n(), update: bytes() }))
    }
    default: return { type: DeviceMessage.scope, json: word(gen) }
  }
}

describe('device protocol frames', () => {
  it('decode what they encode (seeded round trip)', async () => {
    await withSeed(gen => {
      for (let i = 0; i < 2000; i++) {
        const f = randomFrame(gen)
        expect(decodeDeviceFrame(encodeDeviceFrame(f))).toEqual(f)
      }
    })
  })

  it('refuse truncated, trailing and unknown bytes', () => {
    const bytes = encodeDeviceFrame({ type: DeviceMessage.push, record: 'account/a1', id: 7, update: new Uint8Array([1, 2, 3]) })
    expect(() => decodeDeviceFrame(bytes.slice(0, bytes.length - 1))).toThrow()
    expect(() => decodeDeviceFrame(new Uint8Array([...bytes, 0]))).toThrow(/trailing/)
    expect(() => decodeDeviceFrame(new Uint8Array([99]))).toThrow(/unknown device message type 99/)
    const huge = encodeDeviceFrame({ type: DeviceMessage.command, command: 'qualify', target: 'lead/l1', parts: Array.from({ length: 9 }, (_, i) => ({ record: `account/a${i}`, id: i, update: new Uint8Array([0, 0]) })) })
    expect(() => decodeDeviceFrame(huge)).toThrow(/at most 8 parts/)
  })

  it('summarize holdings independently of order, as a whole number below 2^48', () => {
    const names = ['account/a1', 'contact/c2', 'task/t3']
    const d = holdingsDigest(names)
    expect(holdingsDigest([...names].reverse())).toBe(d)
    expect(holdingsDigest(names.slice(1))).not.toBe(d)
    expect(Number.isSafeInteger(d) && d >= 0 && d < 2 ** 48).toBe(true)
  })
})
