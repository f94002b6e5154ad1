import { describe, expect, it } from 'vitest'
import * as v from 'valibot'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { FILTER_OPS, filterable, filterProblems, FilterSchema, matches, readingOrder, RECORD_VALUES, ROW_VALUES, type Filter, type FilterOp } from '../../src/docs/filters.ts'
import { CONDITION_OPS } from '../../src/profiles/profile.ts'

const account = buildCatalog().entities.get('account')!

/** For each operator, values that pass and values that do not, as a record's values hold them. */
const CASES: Record<FilterOp, { value?: string | number | boolean, pass: unknown[], fail: unknown[] }> = {
  eq: { value: 'Oslo', pass: ['Oslo'], fail: ['oslo', 'Bergen', null, undefined] },
  ne: { value: 'Oslo', pass: ['oslo', 'Bergen', null, undefined], fail: ['Oslo'] },
  gt: { value: 10, pass: [11, 10.5], fail: [10, 9, null, undefined] },
  ge: { value: 10, pass: [10, 11], fail: [9, null, undefined] },
  lt: { value: 10, pass: [9, -1], fail: [10, 11, null, undefined] },
  le: { value: 10, pass: [10, 9], fail: [11, null, undefined] },
  contains: { value: 'SL', pass: ['Oslo', 'oslo', 'sl'], fail: ['Bergen', 5, null, undefined] },
  'begins-with': { value: 'os', pass: ['Oslo', 'OS'], fail: ['Kosovo', 5, null, undefined] },
  null: { pass: [null, undefined], fail: ['', 0, false] },
  'not-null': { pass: ['', 0, false], fail: [null, undefined] }
}

const when = (op: FilterOp, x: unknown, value?: string | number | boolean, comparing = RECORD_VALUES): boolean =>
  matches({ f: x }, value === undefined ? { field: 'f', op } : { field: 'f', op, value }, comparing)

describe('filters', () => {
  it('match every operator over a record\'s values', () => {
    expect(Object.keys(CASES).sort()).toEqual([...FILTER_OPS].sort())
    for (const op of FILTER_OPS) {
      const c = CASES[op]
      for (const x of c.pass) expect(when(op, x, c.value), `${JSON.stringify(x)} ${op} ${c.value}`).toBe(true)
      for (const x of c.fail) expect(when(op, x, c.value), `${JSON.stringify(x)} ${op} ${c.value}`).toBe(false)
    }
  })

  it('match every operator over a projected row the same way, text and numbers alike', () => {
    for (const op of FILTER_OPS) {
      const c = CASES[op]
      for (const x of c.pass.filter(y => typeof y !== 'boolean')) expect(when(op, x ?? null, c.value, ROW_VALUES), `${JSON.stringify(x)} ${op} ${c.value}`).toBe(true)
      for (const x of c.fail.filter(y => typeof y !== 'boolean')) expect(when(op, x ?? null, c.value, ROW_VALUES), `${JSON.stringify(x)} ${op} ${c.value}`).toBe(false)
    }
  })

  it('compare a boolean with a row\'s 1 or 0, and with a record\'s true or false', () => {
    expect(when('eq', 1, true, ROW_VALUES)).toBe(true)
    expect(when('eq', 0, false, ROW_VALUES)).toBe(true)
    expect(when('ne', 1, true, ROW_VALUES)).toBe(false)
    expect(when('eq', true, true)).toBe(true)
    expect(when('eq', 1, true)).toBe(false)
  })

  it('order text as a person reads it in a record, by code unit in a row', () => {
    expect(when('gt', 'Zed', 'm')).toBe(true)
    expect(when('gt', 'Zed', 'm', ROW_VALUES)).toBe(false)
    expect(when('le', 'apple', 'Apple')).toBe(true)
    expect(when('le', 'apple', 'Apple', ROW_VALUES)).toBe(false)
    // A row's text never orders against a number it does not read as; a record's compares as equal.
    expect(when('ge', 'abc', 5, ROW_VALUES)).toBe(false)
    expect(when('le', 'abc', 5, ROW_VALUES)).toBe(false)
    expect(when('ge', '7', 5, ROW_VALUES)).toBe(true)
    expect(when('ge', 'abc', 5)).toBe(true)
  })

  it('join conditions with and / or, nested', () => {
    const f: Filter = { and: [{ field: 'city', op: 'eq', value: 'Oslo' }, { or: [{ field: 'n', op: 'gt', value: 100 }, { field: 'vip', op: 'eq', value: true }] }] }
    expect(matches({ city: 'Oslo', n: 120 }, f)).toBe(true)
    expect(matches({ city: 'Oslo', n: 5, vip: true }, f)).toBe(true)
    expect(matches({ city: 'Oslo', n: 5, vip: false }, f)).toBe(false)
    expect(matches({ city: 'Bergen', n: 120 }, f)).toBe(false)
  })

  it('sort empty values first and text case-insensitively', () => {
    const rows = ['b', 'A', null, 'c'].map(x => ({ x }))
    expect(rows.sort((a, b) => readingOrder(a.x, b.x)).map(r => r.x)).toEqual([null, 'A', 'b', 'c'])
    expect(readingOrder(undefined, 'a')).toBeLessThan(0)
    expect(readingOrder(3, null)).toBeGreaterThan(0)
    expect(readingOrder('Oslo', 'oslo')).toBe(0)
  })

  it('name an attribute or a system field; a profile\'s custom rule takes every operator but begins-with', () => {
    expect(filterable(account, 'name')).toBe(true)
    expect(filterable(account, 'modifiedon')).toBe(true)
    expect(filterable(account, 'deletedon')).toBe(false)
    expect(filterProblems(account, { or: [{ field: 'name', op: 'null' }, { field: 'nosuch', op: 'null' }] }, ['filter']))
      .toEqual([{ path: ['filter', 'or', 1, 'field'], message: 'account has no field "nosuch"' }])
    expect(CONDITION_OPS).toEqual(FILTER_OPS.filter(op => op !== 'begins-with'))
  })

  it('parse with the error of the branch the author meant', () => {
    expect(v.safeParse(FilterSchema, { field: 'name', op: 'contains', value: 3 }).issues?.[0].message).toBe('"contains" compares text: expected a string, got 3')
    expect(v.safeParse(FilterSchema, { field: 'name', op: 'null', value: 3 }).issues?.[0].message).toBe('"null" takes no value')
    expect(v.safeParse(FilterSchema, { and: [] }).issues?.[0].message).toBe('and/or needs a non-empty list')
    expect(v.safeParse(FilterSchema, { or: [{ field: 'name', op: 'eq', value: 'x' }] }).success).toBe(true)
  })
})
