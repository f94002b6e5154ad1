// Grouped commits on PostgreSQL (src/server/storage/pg-lock-groups.ts): two instances' stores over one
// schema race on the same records the way rooms do (lock, take in the catch-up, decide, append), their
// lock requests grouped into shared transactions. Each decision appends "the value after the last one
// this copy holds": if two writers ever decided one record at once, or a catch-up missed a commit, a
// record's values would repeat or skip. Also: feed numbers gapless and visible in commit order, each
// acknowledged append stored under its number, bindings and each principal's usage read by the other
// instance under the lock, and one record whose row PostgreSQL refuses failing alone.

import { describe, expect, it } from 'vitest'
import { loadCatalog } from '../../src/docs/catalog.ts'
import type { DocName } from '../../src/ids.ts'
import { Reason, type Receipt } from '../../src/protocol/receipts.ts'
import { openPgStores, type PgStores } from '../../src/server/storage/pg-stores.ts'
import type { CommitResult } from '../../src/server/storage/port.ts'
import { tempSchema, type TempSchema } from '../helpers/pg.ts'
import { int, withSeed, type Gen } from '../helpers/seed.ts'

const catalog = loadCatalog()
const RECORDS = 8
const DECISIONS = 12

const encode = (n: number): Uint8Array => new TextEncoder().encode(String(n))
const decode = (b: Uint8Array): number => Number(new TextDecoder().decode(b))
const receiptFor = (doc: DocName, n: number): Receipt => ({
  principal: 'u-test', record: doc, change: 'update', field: 'name', attempted: String(n), kept: null,
  reason: Reason.invalidValue, message: `decision ${n}`, privilegeVersion: 0, at: '2024-01-01T00:00:00.000Z'
})

/** Yields `n` turns of the event loop (a seeded interleaving of the writers). */
const turns = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) await new Promise(r => setImmediate(r)) }

interface Acked { readonly doc: DocName, readonly value: number, readonly result: CommitResult }

/**
 * One instance's writer of one record, as a room runs: take the lock with the copy's position, take in
 * what others committed, decide the next value, append it under the lock (with a receipt and a binding of
 * its own), and only then count it as acknowledged.
 */
const writer = async (store: PgStores, instance: number, doc: DocName, gen: Gen, acked: Acked[]): Promise<void> => {
  let position = 0
  let last = 0
  for (let k = 0; k < DECISIONS; k++) {
    await turns(int(gen, 0, 3))
    const caught = await store.log.lock(doc, position)
    try {
      for (const u of caught.updates) { last = decode(u.data); position = u.seq }
      await turns(int(gen, 0, 2)) // deciding takes a while; other records of the group decide meanwhile
      const value = last + 1
      const result = await store.log.append(doc, encode(value), {
        receipts: [receiptFor(doc, value)],
        bindings: [{ client: 1000 * instance + k, principal: `u-${instance}` }],
        usage: [{ principal: `u-${instance}`, receipts: 1, refusedBytes: 2 }]
      })
      acked.push({ doc, value, result })
      last = value
      position = result.seq
    } finally {
      await store.log.release(doc)
    }
  }
}

describe('grouped commits on PostgreSQL', () => {
  it('keep one writer per record, complete catch-ups, and gapless feed numbers in commit order while two instances race', async () => {
    let schema: TempSchema | undefined
    const stores: PgStores[] = []
    try {
      await withSeed(async gen => {
        schema = await tempSchema()
        for (let i = 0; i < 2; i++) stores.push(await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 4 }))
        const docs = Array.from({ length: RECORDS }, (_, i) => `account/race${i}` as DocName)
        const acked: Acked[] = []
        // A reader of the feed: whenever it sees a head, every number up to it is there already (a
        // commit never becomes visible below a number a reader has passed).
        let reading = true
        const heads: number[] = []
        const reader = (async () => {
          while (reading) {
            const head = await stores[0].log.head()
            const below = (await stores[0].pool.query<{ n: number }>('SELECT count(*)::int AS n FROM record_updates WHERE seq <= $1', [head])).rows[0].n
            expect(below).toBe(head)
            heads.push(head)
            await turns(1)
          }
        })()
        try {
          await Promise.all(stores.flatMap((s, i) => docs.map(d => writer(s, i, d, gen, acked))))
        } finally {
          reading = false
          await reader
        }

        // The records' writes were grouped: fewer lock transactions than locks.
        for (const s of stores) expect(s.log.groups.stats.groups).toBeLessThan(s.log.groups.stats.locks)
        // Per record, the values in feed order are 1, 2, 3…: no decision was made on a stale copy.
        const total = stores.length * DECISIONS
        for (const d of docs) {
          const stored = (await stores[1].log.load(d)).updates
          expect(stored.map(u => decode(u.data)), d).toEqual(Array.from({ length: total }, (_, i) => i + 1))
        }
        // Feed numbers: gapless, each acknowledged append stored under the number it was given.
        const all = (await stores[0].pool.query<{ seq: number, doc: string, data: Buffer }>('SELECT seq, doc, data FROM record_updates ORDER BY seq')).rows
        expect(all.map(r => r.seq)).toEqual(Array.from({ length: docs.length * total }, (_, i) => i + 1))
        expect(acked).toHaveLength(docs.length * total)
        const bySeq = new Map(all.map(r => [r.seq, r]))
        for (const a of acked) {
          const row = bySeq.get(a.result.seq)!
          expect([row.doc, decode(row.data)]).toEqual([a.doc, a.value])
        }
        expect(heads.length).toBeGreaterThan(0)
        // Receipts: gapless numbers, each acknowledged one stored with its number.
        const receipts = await stores[1].log.receipts('u-test', 0, 100_000)
        expect(receipts.map(r => r.seq)).toEqual(Array.from({ length: docs.length * total }, (_, i) => i + 1))
        const receiptBySeq = new Map(receipts.map(r => [r.seq, r]))
        for (const a of acked) expect(receiptBySeq.get(a.result.receipts[0].seq!)?.attempted).toBe(String(a.value))
        // Bindings one instance committed reach the other's catch-up when asked from before them.
        const caught = await stores[1].log.lock(docs[0], total * docs.length, 0)
        await stores[1].log.release(docs[0])
        expect(new Set(caught.bindings.map(b => b.principal))).toEqual(new Set(['u-0', 'u-1']))
        expect(caught.updates).toEqual([])
        // So does what each principal has the record keep, summed over both instances' commits.
        expect([...caught.usage ?? []].sort((a, b) => a.principal.localeCompare(b.principal))).toEqual(
          [0, 1].map(i => ({ principal: `u-${i}`, receipts: DECISIONS, refusedBytes: 2 * DECISIONS })))
      })
    } finally {
      for (const s of stores) await s.close()
      await schema?.dispose()
    }
  }, 120_000)

  it('commit the rest of a group when PostgreSQL refuses one record\'s row, and fail that one alone', async () => {
    const schema = await tempSchema()
    const store = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 2 })
    try {
      const docs = ['account/ok1', 'account/bad', 'account/ok2'] as DocName[]
      const before = store.log.groups.stats.groups
      // Asked for in one turn: one group.
      await Promise.all(docs.map(d => store.log.lock(d, 0)))
      expect(store.log.groups.stats.groups).toBe(before + 1)
      const row = (id: string, statecode: string | number) => ({ entity: 'account', id, values: { id, name: id, statecode } })
      const results = await Promise.allSettled(docs.map(d => {
        const id = d.split('/')[1]
        return store.log.append(d, encode(1), { row: row(id, id === 'bad' ? 'not a number' : 0) })
      }))
      await Promise.all(docs.map(d => store.log.release(d)))
      expect(results.map(r => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((await store.log.load(docs[1])).updates).toEqual([])
      for (const d of [docs[0], docs[2]]) expect((await store.log.load(d)).updates.map(u => decode(u.data))).toEqual([1])
      expect((await store.pool.query<{ id: string }>('SELECT id FROM rec_account WHERE id IN ($1, $2, $3) ORDER BY id', ['bad', 'ok1', 'ok2'])).rows.map(r => r.id)).toEqual(['ok1', 'ok2'])
      // and the feed has no gap where the refused one would have been
      expect((await store.pool.query<{ seq: number }>('SELECT seq FROM record_updates ORDER BY seq')).rows.map(r => r.seq)).toEqual([1, 2])
      // nothing is left locked: another transaction takes the three locks at once
      const c = await store.pool.connect()
      try {
        await c.query('BEGIN')
        expect((await c.query<{ ok: boolean }>(`SELECT bool_and(pg_try_advisory_xact_lock(hashtextextended(d, 7146))) AS ok FROM unnest($1::text[]) d`, [docs])).rows[0].ok).toBe(true)
        await c.query('ROLLBACK')
      } finally {
        c.release()
      }
    } finally {
      await store.close()
      await schema.dispose()
    }
  }, 60_000)

  it('fail alone a record whose quotas\' use changed after its group read it, when the group\'s commit failed', async () => {
    const schema = await tempSchema()
    const store = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 2 })
    const other = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 1 })
    try {
      const docs = ['account/used', 'account/bad'] as DocName[]
      const caught = await Promise.all(docs.map(d => store.log.lock(d, 0)))
      expect(caught[0].usage).toEqual([])
      // Another instance's commit that appends nothing (a refusal's receipt, say) changes what u-1 has the record
      // keep: it waits for the lock the group holds, and takes it when the group's transaction fails.
      const sneaky = other.log.append(docs[0], null, { usage: [{ principal: 'u-1', receipts: 1, refusedBytes: 10 }] })
      const waiting = async (): Promise<boolean> => (await store.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows[0].n > 0
      for (let i = 0; i < 500 && !await waiting(); i++) await new Promise(r => setTimeout(r, 10))
      expect(await waiting()).toBe(true)
      const row = (id: string, statecode: string | number) => ({ entity: 'account', id, values: { id, name: id, statecode } })
      const results = await Promise.allSettled([
        store.log.append(docs[0], encode(1), { row: row('used', 0), usage: [{ principal: 'u-1', receipts: 1, refusedBytes: 0 }] }),
        store.log.append(docs[1], encode(1), { row: row('bad', 'not a number') })
      ])
      await Promise.all(docs.map(d => store.log.release(d)))
      await sneaky
      expect(results.map(r => r.status)).toEqual(['rejected', 'rejected'])
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/quotas' use changed/)
      expect((await store.log.load(docs[0])).updates).toEqual([])
      expect((await store.pool.query('SELECT principal, receipts, refused_bytes FROM principal_usage WHERE doc = $1', [docs[0]])).rows).toEqual([{ principal: 'u-1', receipts: 1, refused_bytes: 10 }])
    } finally {
      await other.close()
      await store.close()
      await schema.dispose()
    }
  }, 60_000)
})
