// A log entry of several updates gives back exactly the updates packed into it (seeded), and bytes that
// do not hold the count stored beside them are refused, not misread.

import { describe, expect, it } from 'vitest'
import * as prng from 'lib0/prng'
import * as encoding from 'lib0/encoding'
import { decodePackedUpdates, encodePackedUpdates } from '../../../src/server/storage/packed-updates.ts'
import { int, withSeed } from '../../helpers/seed.ts'

describe('packed log entries', () => {
  it('read back as written', async () => {
    await withSeed(gen => {
      for (let i = 0; i < 200; i++) {
        const updates = Array.from({ length: int(gen, 1, 6) }, () => prng.uint8Array(gen, int(gen, 0, 400)))
        expect(decodePackedUpdates(encodePackedUpdates(updates), updates.length)).toEqual(updates)
      }
    })
  })

  it('writes what lib0\'s writeVarUint8Array writes for each update (seeded)', async () => {
    await withSeed(gen => {
      for (let i = 0; i < 50; i++) {
        const updates = Array.from({ length: int(gen, 0, 4) }, () => prng.uint8Array(gen, int(gen, 0, 1) === 0 ? int(gen, 0, 300) : int(gen, 16_000, 20_000)))
        const e = encoding.createEncoder()
        for (const u of updates) encoding.writeVarUint8Array(e, u)
        expect(encodePackedUpdates(updates)).toEqual(encoding.toUint8Array(e))
      }
    })
  })

  it('refuses an entry holding fewer or more updates than its count', () => {
    const packed = encodePackedUpdates([new Uint8Array([1, 2]), new Uint8Array([3])])
    expect(() => decodePackedUpdates(packed, 3)).toThrow()
    expect(() => decodePackedUpdates(packed, 1)).toThrow(/more than its 1/)
  })
})
