// Token buckets on an injected clock: a burst, a steady refill, refunds, and a bounded number of keys.

import { describe, expect, it } from 'vitest'
import { HARD_KEYS_FACTOR, TokenBuckets } from '../../src/server/rate-limit.ts'

const buckets = (maxKeys = 100): { b: TokenBuckets, advance: (ms: number) => void } => {
  let now = 1_000_000
  return { b: new TokenBuckets({ burst: 3, refillMs: 1000, maxKeys, now: () => now }), advance: ms => { now += ms } }
}

describe('token buckets', () => {
  it('allow a burst, then one attempt per refill period, and say how long to wait', () => {
    const { b, advance } = buckets()
    expect([b.take('k'), b.take('k'), b.take('k')]).toEqual([true, true, true])
    expect(b.take('k')).toBe(false)
    expect(b.waitMs('k')).toBe(1000)
    advance(400)
    expect(b.waitMs('k')).toBe(600)
    expect(b.take('k')).toBe(false)
    advance(600)
    expect(b.waitMs('k')).toBe(0)
    expect(b.take('k')).toBe(true)
    expect(b.take('k')).toBe(false)
    // other keys are not affected
    expect(b.take('other')).toBe(true)
  })

  it('never lock a key for longer than the refill: after burst x period it has its whole burst back', () => {
    const { b, advance } = buckets()
    for (let i = 0; i < 100; i++) b.take('k')
    advance(3000)
    expect([b.take('k'), b.take('k'), b.take('k'), b.take('k')]).toEqual([true, true, true, false])
  })

  it('give an attempt back on refund, and everything on reset', () => {
    const { b } = buckets()
    b.take('k'); b.take('k'); b.take('k')
    b.refund('k')
    expect(b.take('k')).toBe(true)
    expect(b.take('k')).toBe(false)
    b.reset('k')
    expect(b.waitMs('k')).toBe(0)
    expect(b.size).toBe(0)
  })

  it('forget a bucket refunded to full (it is the same as none)', () => {
    const { b } = buckets()
    b.take('k')
    expect(b.size).toBe(1)
    b.refund('k')
    expect(b.size).toBe(0)
  })

  it('keep at most maxKeys buckets: refilled ones go first, then the least recently charged', () => {
    const { b, advance } = buckets(10)
    for (let i = 0; i < 5; i++) b.take(`old${i}`)
    advance(3000) // the old ones have refilled
    for (let i = 0; i < 3; i++) { b.take('hot'); b.take(`new${i}`) }
    for (let i = 0; i < 1000; i++) { b.take(`flood${i}`); expect(b.size).toBeLessThanOrEqual(10) }
    // the most recent keys are kept
    expect(b.waitMs('flood999')).toBe(0) // 2 left of 3: may still try
    b.take('flood999'); b.take('flood999')
    expect(b.take('flood999')).toBe(false)
  })

  it('keep a drained bucket through a flood of other keys, up to the hard bound, without sweeping on every charge', () => {
    const { b } = buckets(10)
    for (let i = 0; i < 3; i++) b.take('victim')
    expect(b.take('victim')).toBe(false)
    // Keys that still allow an attempt go, however many: the drained one stays.
    for (let i = 0; i < 1000; i++) { b.take(`flood${i}`); expect(b.size).toBeLessThanOrEqual(10) }
    expect(b.take('victim')).toBe(false)
    // Drained keys fill the table past maxKeys, never past the hard bound; past it the least recently charged go.
    for (let i = 0; i < 1000; i++) { for (let j = 0; j < 3; j++) b.take(`drained${i}`); expect(b.size).toBeLessThanOrEqual(10 * HARD_KEYS_FACTOR) }
    expect(b.size).toBeGreaterThan(10 * HARD_KEYS_FACTOR * 0.9)
    expect(b.take('victim')).toBe(true) // forgotten past the hard bound: only then its burst is back
    expect(b.take('drained999')).toBe(false)
  })

  it('keep a nearly spent bucket through a flood of keys tried once: the fullest go first', () => {
    let now = 1_000_000
    const b = new TokenBuckets({ burst: 10, refillMs: 60_000, maxKeys: 100, now: () => now })
    for (let i = 0; i < 9; i++) expect(b.take('alice')).toBe(true)
    for (let i = 0; i < 1000; i++) b.take(`nobody${i}`)
    let allowed = 0
    for (let i = 0; i < 20; i++) if (b.take('alice')) allowed++
    expect(allowed).toBe(1) // the one attempt it had left, no burst back
    now += 60_000
    expect(b.take('alice')).toBe(true)
  })
})
