// The relational projection port: each record's row, as reports, routes and offline scopes read it.
// Rows are written with the update they project (RecordStorage.append's effects, one commit); this
// port reads them. Adapters pass test/server/ports/projection-suite.ts.

import type { ReadScope } from '../../authz/decide.ts'
import type { Row } from '../../projection/rows.ts'
import type { Awaitable } from './awaitable.ts'

export interface ProjectionReader {
  /**
   * A record's row. Synchronous: a decision asks it for the owner of a record that is not loaded, in
   * the middle of a transaction; an adapter over the network keeps ownership in memory.
   */
  row (entity: string, id: string): Row | undefined
  /** A page of the rows within `scope`, ordered by id: those after `afterId` (null or absent: from the
   * first), less the first `offset` of them (a list reads on after the last row it read, not past an offset again). */
  rows (entity: string, scope: ReadScope, limit: number, offset: number, afterId?: string | null): Awaitable<Row[]>
  /** Every row of an entity (the reference offline scope is computed over them). */
  all (entity: string): Awaitable<Row[]>
  /** Up to `limit` rows of an entity ordered by id, those after `afterId` (null: from the first), so
   * every row can be read a page at a time (the server's scope index loads them so). */
  page (entity: string, afterId: string | null, limit: number): Awaitable<Row[]>
}
