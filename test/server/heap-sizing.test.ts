// HEAP_GROWING_PERCENT: the V8 heap's headroom the server runs with, parsed once with a clear error.

import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_HEAP_GROWING_PERCENT, parseConfig } from '../../src/server/config.ts'

describe('heap sizing', () => {
  it('keeps the heap at twice what survives by default, takes another headroom or V8\'s own sizing (0), and names a bad value', () => {
    expect(parseConfig({}).heapGrowingPercent).toBe(DEFAULT_HEAP_GROWING_PERCENT)
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(100)
    expect(parseConfig({ HEAP_GROWING_PERCENT: '50' }).heapGrowingPercent).toBe(50)
    expect(parseConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0)
    expect(parseConfig({ HEAP_GROWING_PERCENT: '100' }).heapGrowingPercent).toBe(100)
    for (const bad of ['-1', '301', '1.5', 'lots']) {
      expect(() => parseConfig({ HEAP_GROWING_PERCENT: bad })).toThrow(ConfigError)
      expect(() => parseConfig({ HEAP_GROWING_PERCENT: bad })).toThrow(/HEAP_GROWING_PERCENT must be a whole number from 0 to 300/)
    }
  })
})
