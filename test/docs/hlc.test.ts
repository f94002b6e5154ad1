// The field stamps' writer and reader (src/docs/hlc.ts): a seeded round trip, and the reader against the
// grammar it implements (written as the regular expression it replaced) on stamps a writer would never make.

import { describe, expect, it } from 'vitest'
import { decodeHlc, decodeStamp, encodeStamp, type FieldStamp, type Hlc } from '../../src/docs/hlc.ts'
import { chance, int, pick, withSeed, type Gen } from '../helpers/seed.ts'

/** The grammar: `clock` or `clock seen`, each `wall:counter:writer` of 1-15, 1-5 and 1-10 decimal digits. */
const PART = /^(\d{1,15}):(\d{1,5}):(\d{1,10})$/
const referenceHlc = (s: string): Hlc | null => {
  const m = PART.exec(s)
  if (m === null) return null
  const c = { wall: Number(m[1]), counter: Number(m[2]), writer: Number(m[3]) }
  return Number.isSafeInteger(c.wall) && c.counter <= 0xffff && c.writer <= 0xffffffff ? c : null
}
const reference = (s: unknown): FieldStamp | null => {
  if (typeof s !== 'string' || s.length > 80) return null
  const [a, b, ...rest] = s.split(' ')
  if (rest.length > 0) return null
  const clock = referenceHlc(a)
  const seen = b === undefined ? null : referenceHlc(b)
  return clock === null || (b !== undefined && seen === null) ? null : { clock, seen }
}

const hlc = (gen: Gen): Hlc => ({ wall: pick(gen, [0, 1, int(gen, 0, 2 ** 31), 999_999_999_999_999, Date.UTC(2026, 10, 28)]), counter: int(gen, 0, 0xffff), writer: pick(gen, [0, int(gen, 0, 2 ** 32 - 1), 0xffffffff]) })

/** A stamp's text, often bent: characters dropped, doubled, swapped for others near the grammar's. */
const bent = (gen: Gen): string => {
  let s = encodeStamp({ clock: hlc(gen), seen: chance(gen, 0.5) ? hlc(gen) : null })
  for (let n = int(gen, 0, 3); n > 0; n--) {
    const at = int(gen, 0, s.length)
    const c = pick(gen, ['', ' ', ':', '0', '9', '99999', '-', '+', '.', 'e', '٣', '\n', 'x', '  ', ':1:2'])
    s = chance(gen, 0.5) ? s.slice(0, at) + c + s.slice(at + 1) : s.slice(0, at) + c + s.slice(at)
  }
  return s
}

describe('field stamps', () => {
  it('read back what was written (seeded)', () => withSeed(gen => {
    for (let i = 0; i < 2000; i++) {
      const stamp: FieldStamp = { clock: hlc(gen), seen: chance(gen, 0.5) ? hlc(gen) : null }
      expect(decodeStamp(encodeStamp(stamp))).toEqual(stamp)
    }
  }))

  it('read what the grammar says, and nothing else (seeded)', () => withSeed(gen => {
    for (let i = 0; i < 20_000; i++) {
      const s = bent(gen)
      expect(decodeStamp(s), JSON.stringify(s)).toEqual(reference(s))
      expect(decodeHlc(s), JSON.stringify(s)).toEqual(referenceHlc(s))
    }
  }))

  it.each([
    '', ' ', '1:2:3', '1:2:3 ', ' 1:2:3', '1:2:3 4:5:6', '1:2:3  4:5:6', '1:2:3 4:5:6 7:8:9', '1:2', '1:2:3:4', ':2:3', '1::3', '1:2:',
    '1234567890123456:0:0', '123456789012345:0:0', '0:65535:4294967295', '0:65536:0', '0:0:4294967296', '0:123456:0', '0:0:12345678901',
    '١:2:3', '1:2:3\n', '\n1:2:3', '+1:2:3', '1.0:2:3', '1e3:2:3', `${'1'.repeat(15)}:1:1 ${'1'.repeat(15)}:1:1`, `1:1:1 ${'1'.repeat(80)}`
  ])('reads %j as the grammar says', s => {
    expect(decodeStamp(s)).toEqual(reference(s))
    expect(decodeHlc(s)).toEqual(referenceHlc(s))
  })

  it('is no stamp unless a string', () => {
    for (const v of [undefined, null, 1, true, {}, ['1:2:3']]) expect(decodeStamp(v)).toBeNull()
  })
})
