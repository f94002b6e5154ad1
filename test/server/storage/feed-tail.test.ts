// The SQLite log's feed answers recent positions from its tail in memory: what it answers must be what the
// database answers (a second adapter opened on the same file reads it there), through single and packed
// entries, entries that replace a record's log, compactions in place, effects without an update, and a
// tail small enough to evict (seeded).

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { SqliteRecordStorage } from '../../../src/server/storage/sqlite.ts'
import { FeedTail } from '../../../src/server/storage/feed-tail.ts'
import type { DocName } from '../../../src/ids.ts'
import { tempDb } from '../../helpers/temp-db.ts'
import { int, withSeed } from '../../helpers/seed.ts'

const DOCS = ['account/a1', 'account/a2', 'contact/c1', 'lead/l1'] as DocName[]

describe('the SQLite feed\'s tail', () => {
  it('answers what the database answers (seeded)', async () => {
    await withSeed(async gen => {
      const t = tempDb('fieldsync-tail-')
      const log = new SqliteRecordStorage(t.db(), undefined, { tail: { entries: 6, bytes: 3000 } })
      try {
        const docs = new Map(DOCS.map(d => [d, new Y.Doc()]))
        const latest = new Map<DocName, number>()
        /** One edit of `d`'s document, as an update. */
        const edit = (d: DocName): Uint8Array => {
          const doc = docs.get(d)!
          const sv = Y.encodeStateVector(doc)
          doc.getMap('fields').set(`k${int(gen, 0, 5)}`, 'x'.repeat(int(gen, 1, 120)))
          return Y.encodeStateAsUpdate(doc, sv)
        }
        let fromTail = 0
        for (let step = 0; step < 250; step++) {
          const d = DOCS[int(gen, 0, DOCS.length - 1)]
          const op = int(gen, 0, 11)
          if (op <= 4) latest.set(d, (await log.append(d, edit(d))).seq)
          else if (op === 5) latest.set(d, (await log.append(d, [edit(d), edit(d), edit(d)].slice(0, int(gen, 2, 3)))).seq)
          else if (op === 6) {
            const update = edit(d)
            latest.set(d, (await log.append(d, update, { compacted: Y.encodeStateAsUpdate(docs.get(d)!) })).seq)
          } else if (op === 7) await log.append(d, null, { bindings: [{ client: step + 1, principal: 'u1' }] })
          else if (op === 11 && latest.has(d)) await log.compact(d, Y.encodeStateAsUpdate(docs.get(d)!), latest.get(d)!)
          // (Opened now, the reference's own tail starts at the head: it reads every earlier position from the database.)
          const reference = new SqliteRecordStorage(t.db())
          try {
            const head = reference.head()
            expect(log.head()).toBe(head)
            for (let k = 0; k < 3; k++) {
              // (Half of them recent: what a live cycle asks.)
              const cursor = int(gen, 0, 1) === 0 ? int(gen, 0, head) : Math.max(0, head - int(gen, 0, 6))
              const upTo = int(gen, cursor, head)
              expect(log.changedSince(cursor, upTo)).toEqual(reference.changedSince(cursor, upTo))
              expect(log.statesSince(DOCS, cursor, upTo)).toEqual(reference.statesSince(DOCS, cursor, upTo))
              expect(log.stateSince(d, cursor, upTo)).toEqual(reference.stateSince(d, cursor, upTo))
              if (cursor > 0 && cursor < head && (log as unknown as { tail: { covers: (c: number) => boolean } }).tail.covers(cursor)) fromTail++
            }
          } finally {
            await reference.close()
          }
        }
        // (The comparison is worth something only if the tail answered a good part of it.)
        expect(fromTail).toBeGreaterThan(50)
      } finally {
        await log.close()
        t.dispose()
      }
    })
  })

  it('holds no more than its bounds: evicted entries and those a compaction replaced keep no bytes', () => {
    const tail = new FeedTail(0, { entries: 100, bytes: 10_000 })
    /** the bytes of every update the tail still references */
    const held = (): number => ((tail as unknown as { entries: Array<{ updates: Uint8Array[] } | undefined> }).entries)
      .reduce((n, e) => n + (e?.updates.reduce((m, u) => m + u.length, 0) ?? 0), 0)
    // Past the byte bound long before the count bound: the evicted entries are let go.
    for (let seq = 1; seq <= 300; seq++) tail.add(seq, `account/a${seq % 7}` as DocName, [new Uint8Array(1000)])
    expect(held()).toBeLessThanOrEqual(10_000)
    expect(tail.covers(289)).toBe(false)
    expect(tail.covers(290)).toBe(true)
    // A record's whole log in each entry (a compaction in the commit): the entries it replaced are let go.
    for (let seq = 301; seq <= 320; seq++) tail.add(seq, 'account/big' as DocName, [new Uint8Array(3000)], true)
    expect(held()).toBeLessThanOrEqual(10_000)
    expect(tail.updatesSince('account/big' as DocName, 0, 320)).toHaveLength(1)
  })
})

