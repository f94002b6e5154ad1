// The synchronous PostgreSQL connection (src/server/storage/pg-sync.ts): a query given up after its
// timeout answers later, and that late answer is never taken for another query's.

import { describe, expect, it } from 'vitest'
import { SyncPg } from '../../src/server/storage/pg-sync.ts'
import { PG_URL } from '../helpers/pg.ts'

describe('synchronous PostgreSQL connection', () => {
  it('answers each query with its own result after an earlier one timed out', () => {
    const sync = new SyncPg(PG_URL, 200)
    try {
      expect(sync.one<{ k: number }>('SELECT $1::int AS k', [1])?.k).toBe(1)
      expect(() => sync.query('SELECT pg_sleep(0.6), 2 AS k')).toThrow(/did not answer within 200 ms/)
      // While the worker still runs the slow query, the next ones time out too; the first that is
      // answered in time gets its own answer (neither the slow query's nor one given up before it).
      let answered: { asked: number, k: number | undefined } | undefined
      for (let i = 0; i < 50 && answered === undefined; i++) {
        try {
          answered = { asked: 100 + i, k: sync.one<{ k: number }>('SELECT $1::int AS k', [100 + i])?.k }
        } catch (e) {
          expect((e as Error).message).toMatch(/did not answer/)
        }
      }
      expect(answered).toBeDefined()
      expect(answered!.k).toBe(answered!.asked)
      expect(sync.one<{ k: number }>('SELECT $1::int AS k', [7])?.k).toBe(7)
    } finally {
      sync.close()
    }
  })
})
