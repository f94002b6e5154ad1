// The rows of a list answer (`GET /api/records/<entity>`): read from the projection a few at a time and
// cut at a byte budget, so that one request never holds much more than the budget of memo-heavy rows.

import type { Row } from '../projection/rows.ts'
import type { Awaitable } from './storage/awaitable.ts'

/** Bytes of row JSON one list answer carries at most; a first row larger than this goes alone (README, "Security"). */
export const MAX_LIST_ROW_BYTES = 4 * 1024 * 1024

/** Rows read from storage at a time: a row may hold several memo texts of 100,000 characters each. */
const ROWS_PER_READ = 25

/** Reads up to `limit` rows ordered by id, those after `afterId` (null: from the first) less the first `offset`. */
export type ReadRows = (limit: number, offset: number, afterId: string | null) => Awaitable<readonly Row[]>

/** A row of a list as it is read, and as the list shows it (made only for a row that is taken). */
export interface ListedRow { readonly id: string, show (): Row }

const idOf = (r: Row): string => String(r.id)

/**
 * The rows `read` gives, ordered by id, less the first `offset`, at most `max`, read ROWS_PER_READ at a
 * time (after the first read, on from the last id read: the offset is skipped once).
 */
export async function * rowsOf (read: ReadRows, offset: number, max: number, view: (r: Row) => Row): AsyncGenerator<ListedRow> {
  let after: string | null = null
  for (let taken = 0; taken < max;) {
    const want = Math.min(ROWS_PER_READ, max - taken)
    const page = await read(want, after === null ? offset : 0, after)
    for (const r of page) yield { id: idOf(r), show: () => view(r) }
    if (page.length < want) return
    taken += page.length
    after = idOf(page[page.length - 1])
  }
}

/** The rows of several sources, each ordered by id, merged by id (on equal ids, the earlier source first). */
export async function * mergedById (sources: readonly AsyncIterator<ListedRow>[]): AsyncGenerator<ListedRow> {
  const heads = await Promise.all(sources.map(s => s.next()))
  for (;;) {
    let first = -1
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]
      if (!h.done && (first < 0 || h.value.id < (heads[first].value as ListedRow).id)) first = i
    }
    if (first < 0) return
    yield heads[first].value as ListedRow
    heads[first] = await sources[first].next()
  }
}

export interface RowPage {
  /** each row's JSON */
  readonly rows: readonly string[]
  /** the rows stopped at the byte budget: more may follow */
  readonly truncated: boolean
}

/**
 * Up to `limit` rows of `source` after skipping `skip` of them, their JSON within `budget` bytes (UTF-8):
 * a row that would pass it ends the page, unless it is the first (a client must always progress).
 */
export const takeWithin = async (source: AsyncIterable<ListedRow>, skip: number, limit: number, budget: number): Promise<RowPage> => {
  const rows: string[] = []
  let bytes = 0
  let skipped = 0
  if (limit === 0) return { rows, truncated: false }
  for await (const r of source) {
    if (skipped < skip) { skipped++; continue }
    const json = JSON.stringify(r.show())
    const size = Buffer.byteLength(json)
    if (rows.length > 0 && bytes + size > budget) return { rows, truncated: true }
    rows.push(json)
    bytes += size
    if (rows.length === limit) break
  }
  return { rows, truncated: false }
}

/**
 * A list answer: `{entity, limit, offset, rows, nextOffset, truncated}`, the rows' JSON spliced in as it was
 * measured. `nextOffset`: where the next page starts when more rows may follow (this page was full, or cut
 * at the budget), null when the list ended here.
 */
export const listAnswer = (entity: string, limit: number, offset: number, page: RowPage): string => {
  const more = page.truncated || (limit > 0 && page.rows.length === limit)
  const head = JSON.stringify({ entity, limit, offset, nextOffset: more ? offset + page.rows.length : null, truncated: page.truncated })
  return `${head.slice(0, -1)},"rows":[${page.rows.join(',')}]}`
}
