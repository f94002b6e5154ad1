// Opening PostgreSQL for the server's adapters: one pool (commits wait for the WAL flush:
// synchronous_commit on), whole-number columns read as numbers, and migrations that several instances
// starting together run one at a time (a session advisory lock around them).

import pg from 'pg'

/** The pool every PostgreSQL adapter of one server shares. */
export type PgPool = pg.Pool
export type PgClient = pg.PoolClient

/** The advisory lock key migrations are run under (any constant other locks of ours do not use). */
const MIGRATION_LOCK = 7_146_205_001

// BIGINT (int8) and NUMERIC come back as strings by default; our values fit a double.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format)
  }) as typeof pg.types.getTypeParser
}

/** A pool over `url` (a postgres:// connection string; `?options=-c search_path=…` selects a schema). */
export const openPg = (url: string, max = 10): PgPool => {
  const pool = new pg.Pool({ connectionString: durable(url), max, types })
  // An idle client's error (the server restarted, say) must not end the process: the pool drops it.
  pool.on('error', e => console.error(`PostgreSQL: ${e.message}`))
  return pool
}

/** `url` with synchronous_commit on for its sessions: an acknowledged commit is on disk, whatever the
 * server's default says (kept with any other options the URL gives). */
export const durable = (url: string): string => {
  const u = new URL(url)
  const options = u.searchParams.get('options')
  u.searchParams.set('options', `${options ?? ''} -c synchronous_commit=on`.trim())
  return u.toString()
}

/** Runs `f` in one transaction on one client of the pool. */
export const inTransaction = async <T>(pool: PgPool, f: (c: PgClient) => Promise<T>): Promise<T> => {
  const c = await pool.connect()
  try {
    await c.query('BEGIN')
    const r = await f(c)
    await c.query('COMMIT')
    return r
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {})
    throw e
  } finally {
    c.release()
  }
}

/**
 * Runs migration statements (each idempotent: IF NOT EXISTS) holding the migration lock, so instances
 * that start together bring the schema up to date one after another.
 */
export const migrate = async (pool: PgPool, statements: readonly string[]): Promise<void> => {
  const c = await pool.connect()
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await c.query('BEGIN')
      // One round trip (the simple query protocol takes several statements).
      await c.query(statements.join(';\n'))
      await c.query('COMMIT')
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } finally {
    c.release()
  }
}

/** A quoted identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** Bytes read from a BYTEA column, as a plain Uint8Array view. */
export const bytesOf = (b: Buffer | Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
