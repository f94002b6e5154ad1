// A list answer's rows (src/server/row-pages.ts): read a few at a time, on from the last id read, merged
// by id across sources, and cut at a byte budget, a first row larger than the budget going alone.

import { describe, expect, it } from 'vitest'
import type { Row } from '../../src/projection/rows.ts'
import { listAnswer, mergedById, rowsOf, takeWithin, type ReadRows } from '../../src/server/row-pages.ts'

/** A source over `rows` (ordered by id) that records each read it is asked for. */
const source = (rows: readonly Row[]): { read: ReadRows, reads: [number, number, string | null][] } => {
  const reads: [number, number, string | null][] = []
  const read: ReadRows = (limit, offset, after) => {
    reads.push([limit, offset, after])
    return rows.filter(r => after === null || String(r.id) > after).slice(offset, offset + limit)
  }
  return { read, reads }
}

const rowsNamed = (prefix: string, n: number, pad = 0): Row[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${String(i).padStart(3, '0')}`, text: 'x'.repeat(pad) }))

const same = (r: Row): Row => r
const bytes = (r: Row): number => Buffer.byteLength(JSON.stringify(r))

describe('row pages', () => {
  it('read a few rows at a time, skipping the offset once and going on after the last id read', async () => {
    const { read, reads } = source(rowsNamed('r', 60))
    const page = await takeWithin(rowsOf(read, 5, 50, same), 0, 50, 1 << 20)
    expect(page.rows.map(j => (JSON.parse(j) as Row).id)).toEqual(rowsNamed('r', 60).slice(5, 55).map(r => r.id))
    expect(page.truncated).toBe(false)
    expect(reads).toEqual([[25, 5, null], [25, 0, 'r029']])
  })

  it('stop at the byte budget; a first row larger than it goes alone; the answer says where to go on', async () => {
    const rows = rowsNamed('r', 10, 100)
    const one = bytes(rows[0])
    const cut = await takeWithin(rowsOf(source(rows).read, 0, 10, same), 0, 10, one * 3 + 1)
    expect(cut.rows).toHaveLength(3)
    expect(cut.truncated).toBe(true)
    expect(JSON.parse(listAnswer('account', 10, 4, cut))).toEqual({ entity: 'account', limit: 10, offset: 4, nextOffset: 7, truncated: true, rows: rows.slice(0, 3) })
    const alone = await takeWithin(rowsOf(source(rows).read, 0, 10, same), 0, 10, 1)
    expect(alone).toEqual({ rows: [JSON.stringify(rows[0])], truncated: true })
    // Not cut: the next page's offset while the page is full, null once the list ended.
    const full = await takeWithin(rowsOf(source(rows).read, 0, 4, same), 0, 4, 1 << 20)
    expect(JSON.parse(listAnswer('account', 4, 0, full))).toMatchObject({ nextOffset: 4, truncated: false })
    const end = await takeWithin(rowsOf(source(rows).read, 8, 4, same), 0, 4, 1 << 20)
    expect(JSON.parse(listAnswer('account', 4, 8, end))).toMatchObject({ nextOffset: null, truncated: false })
    expect(JSON.parse(listAnswer('account', 0, 0, await takeWithin(rowsOf(source(rows).read, 0, 0, same), 0, 0, 1)))).toMatchObject({ rows: [], nextOffset: null })
  })

  it('merge sources by id and skip the merged offset, showing only the rows taken', async () => {
    const a = rowsNamed('a', 30).map(r => ({ ...r, id: `x${String(r.id).slice(1)}a` }))
    const b = rowsNamed('b', 40).map(r => ({ ...r, id: `x${String(r.id).slice(1)}b` }))
    const shown: string[] = []
    const show = (kind: string) => (r: Row): Row => { shown.push(String(r.id)); return { id: r.id, kind } }
    const merged = mergedById([rowsOf(source(a).read, 0, 40, show('a')), rowsOf(source(b).read, 0, 40, show('b'))])
    const page = await takeWithin(merged, 10, 20, 1 << 20)
    const expected = [...a.map(r => ({ id: r.id, kind: 'a' })), ...b.map(r => ({ id: r.id, kind: 'b' }))]
      .sort((x, y) => String(x.id) < String(y.id) ? -1 : 1).slice(10, 30)
    expect(page.rows.map(j => JSON.parse(j) as Row)).toEqual(expected)
    expect(shown).toEqual(expected.map(r => r.id))
  })
})
