// Every /sync message writer has a reader that gives back what was written (seeded), and the reader
// refuses what is no message of the protocol with a MalformedMessage.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import * as encoding from 'lib0/encoding'
import { MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { decodeSyncMessage, encodeAwareness, encodeQueryAwareness, encodeReceipts, encodeSyncStep1, encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { Reason, type Receipt } from '../../src/protocol/receipts.ts'
import { MalformedMessage } from '../../src/errors.ts'
import { int, pick, withSeed, word } from '../helpers/seed.ts'

const bytes = (gen: prng.PRNG, max: number): Uint8Array => prng.uint8Array(gen, int(gen, 0, max))

describe('y-websocket messages (/sync)', () => {
  it('read back as written, each writer with its reader', async () => {
    await withSeed(gen => {
      for (let i = 0; i < 200; i++) {
        const step = pick(gen, [SyncStep.step1, SyncStep.step2, SyncStep.update])
        const payload = bytes(gen, 300)
        expect(decodeSyncMessage(encodeSyncUpdate(step, payload))).toEqual({ type: MessageType.sync, step, payload })
        const doc = new Y.Doc()
        doc.getMap('fields').set(word(gen, 1), word(gen))
        expect(decodeSyncMessage(encodeSyncStep1(doc))).toEqual({ type: MessageType.sync, step: SyncStep.step1, payload: Y.encodeStateVector(doc) })
        const update = bytes(gen, 300)
        expect(decodeSyncMessage(encodeAwareness(update))).toEqual({ type: MessageType.awareness, update })
        expect(decodeSyncMessage(encodeQueryAwareness())).toEqual({ type: MessageType.queryAwareness })
        const receipts: Receipt[] = Array.from({ length: int(gen, 0, 3) }, () => ({
          principal: word(gen, 1), record: `account/${word(gen, 1)}`, change: 'update', field: word(gen, 1), attempted: word(gen), kept: null,
          reason: pick(gen, Object.values(Reason)), message: word(gen), privilegeVersion: int(gen, 1, 99), at: '2026-11-27T09:00:00.000Z'
        }))
        const m = decodeSyncMessage(encodeReceipts(receipts))
        expect(m.type).toBe(MessageType.receipts)
        expect(m.type === MessageType.receipts && JSON.parse(m.json)).toEqual(receipts)
      }
    })
  })

  it('frames an update byte for byte as lib0 writes y-protocols\' messages, at every var-uint length boundary', () => {
    const lib0Frame = (step: number, payload: Uint8Array): Uint8Array => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, MessageType.sync)
      encoding.writeVarUint(e, step)
      encoding.writeVarUint8Array(e, payload)
      return encoding.toUint8Array(e)
    }
    for (const n of [0, 1, 99, 100, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
      const payload = new Uint8Array(n).map((_, i) => i * 31)
      // (Compared as buffers: an element-wise comparison of megabytes takes the test's whole time.)
      for (const step of [SyncStep.step1, SyncStep.step2, SyncStep.update]) expect(Buffer.from(encodeSyncUpdate(step, payload)).equals(lib0Frame(step, payload)), `${n} bytes, step ${step}`).toBe(true)
    }
  })

  it('refuses unknown types and steps and truncated frames as malformed', () => {
    expect(() => decodeSyncMessage(new Uint8Array([MessageType.auth]))).toThrow(MalformedMessage)
    expect(() => decodeSyncMessage(new Uint8Array([99]))).toThrow(/unknown message type 99/)
    expect(() => decodeSyncMessage(new Uint8Array([MessageType.sync, 7, 0]))).toThrow(/unknown sync step 7/)
    expect(() => decodeSyncMessage(encodeSyncUpdate(SyncStep.update, new Uint8Array(10)).slice(0, 5))).toThrow(MalformedMessage)
    expect(() => decodeSyncMessage(new Uint8Array())).toThrow(MalformedMessage)
  })
})
