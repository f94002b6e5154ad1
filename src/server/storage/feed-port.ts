// The changes feed port: the server-wide sequence of committed updates read by position, so a device's
// cycle asks what changed since its cursor and gets a record's state without loading its Y.Doc.
// The feed is the record log read by position: an adapter of the log serves it from the same store.
// Adapters pass test/server/ports/feed-suite.ts.

import type { DocName } from '../../ids.ts'
import type { Awaitable } from './awaitable.ts'

export interface ChangesFeed {
  /** The newest position (0 for an empty log). */
  head (): Awaitable<number>
  /** Records with an update after `cursor` (through `upTo`), each with its newest position. */
  changedSince (cursor: number, upTo: number): Awaitable<Map<DocName, number>>
  /** A record's committed state after `cursor` (everything when cursor is 0) through `upTo`, as one update. */
  stateSince (doc: DocName, cursor: number, upTo: number): Awaitable<Uint8Array>
  /**
   * `stateSince` of each of `docs` (in their order), read together: a cycle sends thousands of records,
   * and one read a record is the most of its cost (a round trip each, on a server database).
   */
  statesSince (docs: readonly DocName[], cursor: number, upTo: number): Awaitable<Uint8Array[]>
  /** The stored documents of one secured field (`<entity>/<id>/<attribute>`), of every record. */
  fieldDocuments (entity: string, attribute: string): Awaitable<DocName[]>
}
