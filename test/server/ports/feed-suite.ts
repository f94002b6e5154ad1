// The tests every changes-feed adapter passes: the record log read by position.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { RecordStorage } from '../../../src/server/storage/port.ts'
import type { ChangesFeed } from '../../../src/server/storage/feed-port.ts'
import type { DocName } from '../../../src/ids.ts'

export interface FeedHarness {
  /** appends go through the record log; the feed reads what they committed */
  readonly log: RecordStorage
  readonly feed: ChangesFeed
  dispose (): Promise<void>
}

const name = (s: string): DocName => s as DocName

/** Appends one edit of `doc` to the log; resolves with its position. */
const edit = async (log: RecordStorage, record: string, doc: Y.Doc, key: string, value: number): Promise<number> => {
  const sv = Y.encodeStateVector(doc)
  doc.getMap('fields').set(key, value)
  return (await log.append(name(record), Y.encodeStateAsUpdate(doc, sv))).seq
}

const stateOf = (...updates: Uint8Array[]): Record<string, unknown> => {
  const d = new Y.Doc()
  for (const u of updates) Y.applyUpdate(d, u)
  return d.getMap('fields').toJSON()
}

export const describeFeed = (adapter: string, open: () => Promise<FeedHarness>): void => {
  describe(`${adapter} changes feed`, () => {
    it('tells which records changed between two positions, each with its newest position', async () => {
      const h = await open()
      try {
        expect(await h.feed.head()).toBe(0)
        const a = new Y.Doc()
        const b = new Y.Doc()
        const a1 = await edit(h.log, 'account/a1', a, 'x', 1)
        const b1 = await edit(h.log, 'contact/b1', b, 'x', 1)
        const a2 = await edit(h.log, 'account/a1', a, 'y', 2)
        // Effects alone are no update: the head does not move.
        await h.log.append(name('account/a1'), null, { bindings: [{ client: 7, principal: 'u1' }] })
        expect(await h.feed.head()).toBe(a2)
        expect(await h.feed.changedSince(0, a2)).toEqual(new Map([[name('account/a1'), a2], [name('contact/b1'), b1]]))
        expect(await h.feed.changedSince(b1, a2)).toEqual(new Map([[name('account/a1'), a2]]))
        // Bounded above: what came after `upTo` belongs to the next cycle.
        expect(await h.feed.changedSince(0, b1)).toEqual(new Map([[name('account/a1'), a1], [name('contact/b1'), b1]]))
        expect(await h.feed.changedSince(a2, a2)).toEqual(new Map())
      } finally {
        await h.dispose()
      }
    })

    it('serves a record\'s state since a position as one update, whole from 0, and only up to the bound', async () => {
      const h = await open()
      try {
        const a = new Y.Doc()
        const s1 = await edit(h.log, 'account/a2', a, 'k1', 1)
        const atS1 = Y.encodeStateAsUpdate(a)
        const s2 = await edit(h.log, 'account/a2', a, 'k2', 2)
        const atS2 = Y.encodeStateAsUpdate(a)
        const s3 = await edit(h.log, 'account/a2', a, 'k3', 3)
        expect(stateOf(await h.feed.stateSince(name('account/a2'), 0, s3))).toEqual({ k1: 1, k2: 2, k3: 3 })
        expect(stateOf(await h.feed.stateSince(name('account/a2'), 0, s2))).toEqual({ k1: 1, k2: 2 })
        // After a cursor: only what a holder of the state at the cursor lacks.
        const since = await h.feed.stateSince(name('account/a2'), s2, s3)
        expect(stateOf(since)).toEqual({})
        expect(stateOf(atS2, since)).toEqual({ k1: 1, k2: 2, k3: 3 })
        expect(stateOf(await h.feed.stateSince(name('account/a2'), s1, s2))).not.toHaveProperty('k1')
        // Read together: each as it is read alone, in the order asked; a record with nothing, an empty update.
        const b = new Y.Doc()
        const s4 = await edit(h.log, 'account/b9', b, 'z', 9)
        const together = await h.feed.statesSince([name('account/a2'), name('account/none'), name('account/b9')], s1, s4)
        expect(together).toHaveLength(3)
        expect(together[0]).toEqual(await h.feed.stateSince(name('account/a2'), s1, s4))
        expect(stateOf(atS1, together[0])).toEqual({ k1: 1, k2: 2, k3: 3 })
        expect(stateOf(together[1])).toEqual({})
        expect(stateOf(together[2])).toEqual({ z: 9 })
        expect((await h.feed.statesSince([name('account/b9'), name('account/a2')], 0, s3)).map(u => stateOf(u))).toEqual([{}, { k1: 1, k2: 2, k3: 3 }])
        expect((await h.feed.statesSince([name('account/a2')], 0, s2)).map(u => stateOf(u))).toEqual([{ k1: 1, k2: 2 }])
        // Compaction keeps what the feed serves.
        await h.log.compact(name('account/a2'), atS2, s2)
        expect(stateOf(await h.feed.stateSince(name('account/a2'), 0, s3))).toEqual({ k1: 1, k2: 2, k3: 3 })
        expect(stateOf((await h.feed.statesSince([name('account/a2')], 0, s3))[0])).toEqual({ k1: 1, k2: 2, k3: 3 })
        expect(await h.feed.changedSince(s2, s3)).toEqual(new Map([[name('account/a2'), s3]]))
        expect(await h.feed.head()).toBe(s4)
      } finally {
        await h.dispose()
      }
    })

    it('serves updates appended together (one entry) like any others', async () => {
      const h = await open()
      try {
        const a = new Y.Doc()
        const s1 = await edit(h.log, 'account/a3', a, 'k1', 1)
        const together: Uint8Array[] = []
        for (const k of ['k2', 'k3']) { const sv = Y.encodeStateVector(a); a.getMap('fields').set(k, 2); together.push(Y.encodeStateAsUpdate(a, sv)) }
        const s2 = (await h.log.append(name('account/a3'), together)).seq
        expect(stateOf(await h.feed.stateSince(name('account/a3'), 0, s2))).toEqual({ k1: 1, k2: 2, k3: 2 })
        expect(stateOf((await h.feed.statesSince([name('account/a3')], 0, s2))[0])).toEqual({ k1: 1, k2: 2, k3: 2 })
        expect(stateOf(await h.feed.stateSince(name('account/a3'), 0, s1), await h.feed.stateSince(name('account/a3'), s1, s2))).toEqual({ k1: 1, k2: 2, k3: 2 })
        expect(await h.feed.changedSince(s1, s2)).toEqual(new Map([[name('account/a3'), s2]]))
      } finally {
        await h.dispose()
      }
    })

    it('lists the stored documents of one secured field of every record', async () => {
      const h = await open()
      try {
        for (const record of ['account/a1', 'account/a1/revenue', 'account/a2/revenue', 'account/a2/telephone1', 'contact/c1/revenue', 'account/a1/revenue2']) {
          await h.log.append(name(record), Y.encodeStateAsUpdate(new Y.Doc()))
        }
        expect([...await h.feed.fieldDocuments('account', 'revenue')].sort()).toEqual(['account/a1/revenue', 'account/a2/revenue'])
        expect(await h.feed.fieldDocuments('lead', 'revenue')).toEqual([])
      } finally {
        await h.dispose()
      }
    })
  })
}
