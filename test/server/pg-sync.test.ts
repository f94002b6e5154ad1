// The synchronous PostgreSQL connection (src/server/storage/pg-sync.ts): a query given up after its
// timeout answers later, and that late answer is never taken for another query's.

import { describe, expect, it } from 'vitest'
import { SyncPg } from '../../src/server/storage/pg-sync.ts'
import { PG_URL } from '../helpers/pg.ts'

describe('synchronous PostgreSQL connection', () => {
  it('answers each query with its own result after an earlier one timed out', () => {
    const sync = new SyncPg(PG_URL, 200)
    /** Asks `SELECT <n>` until one is answered within the timeout (bounded): what it asked and what came back. */
    const firstAnswered = (from: number): { asked: number, k: number | undefined } => {
      for (let i = 0; i < 50; i++) {
        try {
          return { asked: from + i, k: sync.one<{ k: number }>('SELECT $1::int AS k', [from + i])?.k }
        } catch (e) {
          expect((e as Error).message).toMatch(/did not answer within 200 ms/)
        }
      }
      throw new Error('no query was answered within its timeout 50 times in a row')
    }
    try {
      // (the first query also opens the connection, which may take longer than the timeout on a loaded machine)
      const opened = firstAnswered(1)
      expect(opened.k).toBe(opened.asked)
      expect(() => sync.query('SELECT pg_sleep(1), 2 AS k')).toThrow(/did not answer within 200 ms/)
      // While the worker still runs the slow query, the next ones time out too; the first that is
      // answered in time gets its own answer (neither the slow query's nor one given up before it).
      const after = firstAnswered(100)
      expect(after.k).toBe(after.asked)
    } finally {
      sync.close()
    }
  })
})
