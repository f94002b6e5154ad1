// Schemas for test servers on PostgreSQL, without making one per test: a new schema costs its ~400
// migration statements, the demo seed and the first start's placing of secured values (one to two
// seconds here), many times the test's own work. A run (test/helpers/pg-run.ts, vitest's globalSetup)
// makes one template schema, as a new test server leaves it once started. A test server of the default
// catalog takes a free schema of the run (made by an earlier test and reset to the template's data), or
// makes one as before, and gives it back reset when disposed. The free list is a table, so the workers
// share it. At the run's end every schema of the run is dropped, whatever a test left behind. Without a
// run (a helper used outside vitest) every schema is made and dropped as before.

import { createHash } from 'node:crypto'
import pg from 'pg'
import type { Catalog } from '../../src/docs/catalog-types.ts'
import { pgMigrations } from '../../src/server/storage/pg-stores.ts'
import { quoteIdent } from '../../src/server/storage/pg-db.ts'
import { runId, schemaName, withAdmin } from './pg.ts'

/** The schema holding the run's free list, and the template's. */
export const runSchemas = (run: string): { free: string, template: string } => ({ free: `fs_${run}_free`, template: `fs_${run}_template` })

/** The migrations a catalog's schema gets, as one digest: schemas are reused only between equal ones. */
export const migrationsDigest = (catalog: Catalog): string =>
  createHash('sha256').update(pgMigrations(catalog).join(';\n')).digest('hex').slice(0, 16)

/** The shape of a schema (tables, columns and their types, indexes, views, sequences), as one digest. */
const SHAPE = `SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) AS shape FROM (
    SELECT c.relname || ':' || c.relkind::text AS x FROM pg_class c WHERE c.relnamespace = $1::regnamespace
    UNION ALL
    SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  ) t`

interface Template {
  readonly schema: string
  readonly digest: string
  readonly shape: string
  /** every table, and those holding rows (copied at a reset) */
  readonly tables: readonly string[]
  readonly filled: readonly string[]
  readonly sequences: readonly string[]
}

let template: Promise<Template | undefined> | undefined

/** The run's template, read once per process (undefined outside a run or before pg-run.ts made one). */
const runTemplate = (): Promise<Template | undefined> => {
  template ??= (async () => {
    const run = runId()
    if (run === undefined) return undefined
    const { free, template: schema } = runSchemas(run)
    return withAdmin(async c => {
      const made = await c.query<{ digest: string }>(`SELECT digest FROM ${free}.template`).catch(() => null)
      if (made === null || made.rows.length === 0) return undefined
      const tables = (await c.query<{ t: string }>('SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [schema])).rows.map(r => r.t)
      const filled = tables.length === 0 ? [] : (await c.query<{ t: string }>(tables.map(t => `SELECT ${pg.escapeLiteral(t)} AS t WHERE EXISTS (SELECT 1 FROM ${schema}.${quoteIdent(t)})`).join(' UNION ALL '))).rows.map(r => r.t)
      const sequences = (await c.query<{ s: string }>('SELECT sequencename AS s FROM pg_sequences WHERE schemaname = $1', [schema])).rows.map(r => r.s)
      const { shape } = (await c.query<{ shape: string }>(SHAPE, [schema])).rows[0]
      return { schema, digest: made.rows[0].digest, shape, tables, filled, sequences }
    })
  })()
  return template
}

/** A schema for a new test server of `catalog`: a free one of the run (`seeded`: holding the demo
 * records already), or (none free, another catalog, or `empty` asked) a new empty one. */
export const takeSchema = async (catalog: Catalog, empty = false): Promise<{ schema: string, seeded: boolean, reusable: boolean }> => {
  const t = await runTemplate()
  const reusable = t !== undefined && t.digest === migrationsDigest(catalog)
  return withAdmin(async c => {
    if (reusable && !empty) {
      const { free } = runSchemas(runId()!)
      const taken = await c.query<{ name: string }>(`DELETE FROM ${free}.schemas WHERE name = (SELECT name FROM ${free}.schemas LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING name`)
      if (taken.rows.length > 0) return { schema: taken.rows[0].name, seeded: true, reusable }
    }
    const schema = schemaName('srv')
    await c.query(`CREATE SCHEMA ${schema}`)
    return { schema, seeded: false, reusable }
  })
}

/**
 * Puts `schema` (no server on it any more) back in the run's free list with the template's data, or drops
 * it when it cannot be reused (another catalog, or its shape differs from the template's).
 */
export const releaseSchema = async (schema: string, reusable: boolean): Promise<void> => {
  const t = reusable ? await runTemplate() : undefined
  await withAdmin(async c => {
    if (t !== undefined && (await c.query<{ shape: string }>(SHAPE, [schema])).rows[0].shape === t.shape) {
      const { free } = runSchemas(runId()!)
      const q = (name: string): string => `${schema}.${quoteIdent(name)}`
      await c.query(['BEGIN',
        // (DELETE, not TRUNCATE: a truncation makes new files and waits for their flush, ~10x slower here)
        ...t.tables.map(name => `DELETE FROM ${q(name)}`),
        ...t.filled.map(name => `INSERT INTO ${q(name)} SELECT * FROM ${t.schema}.${quoteIdent(name)}`),
        // Server client ids stay unique (the template's writes are under its own): a sequence goes on
        // from the higher of its own and the template's position.
        ...t.sequences.map(name => `SELECT setval('${q(name)}', GREATEST(s.last_value, t.last_value), s.is_called OR t.is_called)
          FROM ${q(name)} s, ${t.schema}.${quoteIdent(name)} t`),
        `INSERT INTO ${free}.schemas (name) VALUES (${pg.escapeLiteral(schema)})`,
        'COMMIT'].join(';\n'))
      return
    }
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })
}
