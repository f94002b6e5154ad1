// PostgreSQL and Redis for tests: a fresh schema per use in the `test` database (dropped after), and a
// clear error when the server does not answer. TEST_DATABASE_URL and TEST_REDIS_URL override the defaults.

import pg from 'pg'
import { randomBytes } from 'node:crypto'

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** The test run's id (set by pg-run.ts, vitest's globalSetup), in the name of every schema the run makes. */
export const runId = (): string | undefined => process.env.FIELDSYNC_PG_RUN

/** A new schema name: `fs_<run>_<kind>_<random>` in a run (its end drops it), else `fs_<kind>_<pid>_<random>`. */
export const schemaName = (kind: string): string => {
  const run = runId()
  const rand = randomBytes(5).toString('hex')
  return run === undefined ? `fs_${kind}_${process.pid}_${rand}` : `fs_${run}_${kind}_${rand}`
}

/** `url` with a search_path of `schema` (every connection opened with it works in that schema). */
export const withSchema = (url: string, schema: string): string => {
  const u = new URL(url)
  u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

/** Runs `f` on a connection of its own to the test database (closed after). */
export const withAdmin = async <T>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 })
  try {
    await c.connect()
  } catch (e) {
    throw new Error(`these tests need PostgreSQL at ${PG_URL} (set TEST_DATABASE_URL): ${(e as Error).message}`)
  }
  try { return await f(c) } finally { await c.end() }
}

export interface TempSchema {
  /** the connection string selecting the schema */
  readonly url: string
  readonly schema: string
  /** drops the schema and all in it */
  dispose (): Promise<void>
}

/** A new empty schema in the test database. */
export const tempSchema = async (): Promise<TempSchema> => {
  const schema = schemaName('test')
  await withAdmin(c => c.query(`CREATE SCHEMA ${schema}`))
  return { url: withSchema(PG_URL, schema), schema, dispose: () => withAdmin(c => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => {}) }
}

/** Throws a clear error when Redis at `url` does not answer a PING. */
export const requireRedis = async (url = REDIS_URL): Promise<void> => {
  const { Redis } = await import('ioredis')
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on('error', () => {})
  try {
    await r.connect()
    await r.ping()
  } catch (e) {
    throw new Error(`this test needs Redis at ${url} (set TEST_REDIS_URL): ${(e as Error).message}`)
  } finally {
    r.disconnect()
  }
}
