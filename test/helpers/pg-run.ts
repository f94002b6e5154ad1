// vitest's globalSetup: names the run (FIELDSYNC_PG_RUN, in every schema the run's helpers make) and, when
// test servers run on PostgreSQL (FIELDSYNC_STORE=pg), makes the template schema and the free list of
// pg-schemas.ts. At the end it drops every schema of the run (a test that failed, or a worker that was
// killed, may have left some). A run on SQLite that never reaches PostgreSQL needs no PostgreSQL.

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { loadMetadata } from '../../src/metadata/metadata.ts'
import { createServer } from '../../src/server/app.ts'
import { parseConfig } from '../../src/server/config.ts'
import { demoModel, seedDemoRecords } from '../../src/server/demo.ts'
import { Security } from '../../src/server/security.ts'
import { openStores } from '../../src/server/storage/open-stores.ts'
import { PG_URL, REDIS_URL, withSchema } from './pg.ts'
import { migrationsDigest, runSchemas } from './pg-schemas.ts'
import { withAdmin } from './pg.ts'

/** Drops every schema whose name starts with the run's prefix. */
const dropRun = async (run: string): Promise<number> => withAdmin(async c => {
  const schemas = (await c.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE starts_with(nspname, $1)`, [`fs_${run}_`])).rows.map(r => r.n)
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
  return schemas.length
})

/**
 * The template: the default catalog's schema as a fresh test server leaves it once started and stopped
 * (test/helpers/server.ts: the demo records, the demo model saved, secured values placed), so a test
 * server over a copy finds its start's work done.
 */
const makeTemplate = async (schema: string): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-template-'))
  try {
    const url = withSchema(PG_URL, schema)
    const config = parseConfig({ PORT: '0', DATA_DIR: dir, CUSTOM_ENTITIES: '', DATABASE_URL: url, REDIS_URL, REDIS_PREFIX: schema })
    const catalog = loadCatalog(config.customEntitiesFile)
    const stores = await openStores({ dataDir: dir, databaseUrl: url, maxAttachmentBytes: config.maxAttachmentBytes }, catalog)
    try {
      await seedDemoRecords(stores.storage, catalog)
      const security = new Security(stores.security, demoModel(catalog))
      const server = createServer({
        config, catalog, storage: stores.storage, feed: stores.storage, receipts: stores.storage, projection: stores.projection, holdings: stores.holdings,
        security, metadata: loadMetadata(config.metadataFile, catalog), blobs: stores.blobs, secret: randomBytes(32).toString('hex'), serverClient: stores.serverClient
      })
      await server.listen()
      await server.close()
    } finally {
      await stores.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async function setup (): Promise<() => Promise<void>> {
  const run = process.env.FIELDSYNC_PG_RUN ?? randomBytes(4).toString('hex')
  process.env.FIELDSYNC_PG_RUN = run
  if (process.env.FIELDSYNC_STORE === 'pg') {
    const { free, template } = runSchemas(run)
    await withAdmin(c => c.query(`CREATE SCHEMA ${template}; CREATE SCHEMA ${free};
      CREATE TABLE ${free}.schemas (name TEXT PRIMARY KEY); CREATE TABLE ${free}.template (digest TEXT NOT NULL)`))
    await makeTemplate(template)
    await withAdmin(c => c.query(`INSERT INTO ${free}.template (digest) VALUES ($1)`, [migrationsDigest(loadCatalog())]))
  }
  return async () => {
    // (A run on SQLite reaches PostgreSQL only if some test did: then its schemas go too.)
    const dropped = await dropRun(run).catch(e => {
      if (process.env.FIELDSYNC_STORE === 'pg') throw e
      return 0
    })
    if (process.env.FIELDSYNC_PG_DEBUG !== undefined) console.log(`dropped ${dropped} schemas of run ${run}`)
  }
}
