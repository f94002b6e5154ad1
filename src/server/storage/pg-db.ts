// Opening PostgreSQL for the server's adapters: one pool (commits wait for the WAL flush:
// synchronous_commit on), whole-number columns read as numbers, and migrations that several instances
// starting together run one at a time (a session advisory lock around them).

import pg from 'pg'
import { createHash } from 'node:crypto'

/** The pool every PostgreSQL adapter of one server shares. */
export type PgPool = pg.Pool
export type PgClient = pg.PoolClient

/** The advisory lock migrations are run under (any constant other locks of ours do not use), one per
 * schema: the instances of one deployment wait for each other, deployments in other schemas of the same
 * database (and tests, each in a schema of its own) do not. */
const MIGRATION_LOCK = 7_146_205_001

/** An advisory lock key of the connection's current schema (64 bits of a hash of its name seeded by `key`). */
export const SCHEMA_LOCK_KEY = 'hashtextextended(current_schema(), $1)'

// BIGINT (int8) and NUMERIC come back as strings by default; our values fit a double.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format)
  }) as typeof pg.types.getTypeParser
}

/** A pool over `url` (a postgres:// connection string; `?options=-c search_path=…` selects a schema).
 * `pipeline`: a client sends a query without waiting for the answers to those before it (queries issued
 * together cost one round trip; each still answers on its own, and one that fails fails no other outside
 * a transaction). */
export const openPg = (url: string, max = 10, pipeline = false): PgPool => {
  const pool = new pg.Pool({ connectionString: durable(url), max, types, pipeline })
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

/** What already exists in the current schema: a statement that would change nothing is not run. */
const existing = async (c: PgClient): Promise<{ indexes: Set<string>, columns: Set<string>, views: Map<string, string> }> => {
  const indexes = await c.query<{ n: string }>(`SELECT indexname AS n FROM pg_indexes WHERE schemaname = current_schema()`)
  const columns = await c.query<{ n: string }>(`SELECT table_name || '.' || column_name AS n FROM information_schema.columns WHERE table_schema = current_schema()`)
  const views = await c.query<{ n: string, d: string | null }>(`SELECT c.relname AS n, obj_description(c.oid, 'pg_class') AS d FROM pg_class c
    WHERE c.relkind = 'v' AND c.relnamespace = current_schema()::regnamespace`)
  return { indexes: new Set(indexes.rows.map(r => r.n)), columns: new Set(columns.rows.map(r => r.n)), views: new Map(views.rows.map(r => [r.n, r.d ?? ''])) }
}

const unquote = (name: string): string => name.replace(/^"(.*)"$/, '$1').replace(/""/g, '"')

/**
 * Runs migration statements (each idempotent) holding the migration lock, so instances that start together
 * bring the schema up to date one after another. Statements whose object exists already are skipped
 * before they run: an ALTER TABLE or CREATE INDEX takes a strong lock on a table even when it then finds
 * nothing to do, and would wait for (or deadlock with) the commits of instances already running.
 * A view is made with a comment naming its definition, and made again only when that changes.
 */
export const migrate = async (pool: PgPool, statements: readonly string[]): Promise<void> => {
  const c = await pool.connect()
  try {
    await c.query(`SELECT pg_advisory_lock(${SCHEMA_LOCK_KEY})`, [MIGRATION_LOCK])
    try {
      const have = await existing(c)
      const todo = statements.flatMap(st => {
        const index = /^CREATE INDEX IF NOT EXISTS ("(?:[^"]|"")+"|\S+) ON/.exec(st)
        if (index !== null) return have.indexes.has(unquote(index[1])) ? [] : [st]
        const column = /^ALTER TABLE ("(?:[^"]|"")+"|\S+) ADD COLUMN IF NOT EXISTS ("(?:[^"]|"")+"|\S+)/.exec(st)
        if (column !== null) return have.columns.has(`${unquote(column[1])}.${unquote(column[2])}`) ? [] : [st]
        const view = /^CREATE VIEW ("(?:[^"]|"")+"|\S+) AS/.exec(st)
        if (view !== null) {
          const name = unquote(view[1])
          const mark = `fieldsync:${createHash('sha256').update(st).digest('hex').slice(0, 16)}`
          return have.views.get(name) === mark ? [] : [`DROP VIEW IF EXISTS ${view[1]}`, st, `COMMENT ON VIEW ${view[1]} IS '${mark}'`]
        }
        return [st]
      })
      // One round trip (the simple query protocol takes several statements, in one transaction here).
      await c.query(['BEGIN', ...todo, 'COMMIT'].join(';\n'))
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      await c.query(`SELECT pg_advisory_unlock(${SCHEMA_LOCK_KEY})`, [MIGRATION_LOCK])
    }
  } finally {
    c.release()
  }
}

const names = new Map<string, string>()

/** `text` as a named statement: each connection parses and plans it once, and later runs send only its
 * name and values. */
export const prepared = (text: string, values: unknown[]): pg.QueryConfig => {
  let name = names.get(text)
  if (name === undefined) names.set(text, name = `fs_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`)
  return { name, text, values }
}

/** A quoted identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** Bytes read from a BYTEA column, as a plain Uint8Array view. */
export const bytesOf = (b: Buffer | Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
