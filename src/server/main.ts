// `npm start`: one process, a SQLite file under DATA_DIR, demo data on first start. The one place the
// SQLite adapters are wired to the storage ports the server runs on.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { loadCatalog } from '../docs/catalog.ts'
import { parseConfig } from './config.ts'
import { ErrorCode, FieldsyncError, type ErrorCodeValue } from '../errors.ts'
import { createServer } from './app.ts'
import { SqliteRecordStorage } from './storage/sqlite.ts'
import { openSqlite } from './storage/sqlite-db.ts'
import { SqliteProjection } from './storage/sqlite-projection.ts'
import { SqliteBlobStore } from './storage/sqlite-blobs.ts'
import { SqliteDeviceHoldings } from './storage/sqlite-holdings.ts'
import { loadMetadata } from '../metadata/metadata.ts'
import { SqliteSecurityStore } from './storage/sqlite-security.ts'
import { Security } from './security.ts'
import { bootstrapModel, demoModel, seedDemoRecords } from './demo.ts'
import { DEMO_PASSWORD } from './authenticator.ts'

const main = async (): Promise<void> => {
  const config = parseConfig(process.env)
  const catalog = loadCatalog(config.customEntitiesFile)
  mkdirSync(config.dataDir, { recursive: true })
  const file = join(config.dataDir, 'fieldsync.db')
  const db = openSqlite(file)
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  const securityStore = new SqliteSecurityStore(db)
  const fresh = securityStore.latest() === undefined
  const security = new Security(securityStore, config.demo ? demoModel(catalog) : bootstrapModel(catalog))
  if (config.demo && fresh) {
    const names = await seedDemoRecords(storage, catalog)
    console.log(`seeded the demo organization and ${names.length} records`)
  }
  let secret = config.jwtSecret ?? security.setting('jwt-secret')
  if (secret === undefined) {
    secret = randomBytes(32).toString('base64url')
    security.setSetting('jwt-secret', secret)
  }
  // The record log's adapter also serves the feed and the receipts (same tables, same transaction).
  const server = createServer({ config, catalog, storage, feed: storage, receipts: storage, projection, holdings: new SqliteDeviceHoldings(db), security, metadata: loadMetadata(config.metadataFile, catalog), blobs: new SqliteBlobStore(db, config.maxAttachmentBytes), secret })
  const port = await server.listen()
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const base = `http://${shown}:${port}`
  if (!config.demo && fresh) {
    // Printed once: the administrator's first sign-in, to set a password with (README, "Sign-in").
    const adminUser = security.model.org.users[0]
    const issued = await server.authenticator.issue(adminUser)
    console.log(`new organization with one administrator; admin token (valid ${config.tokenTtlSeconds} s, renewable with POST /auth/refresh):\n${issued.token}`)
    console.log(`set its password: curl -s -X PUT ${base}/api/admin/users/${adminUser.id}/password -H "authorization: Bearer <token>" -H 'content-type: application/json' -d '{"password":"<12 or more characters>"}'`)
  }
  console.log(`fieldsync listening on ${base}/  (open it for the app; server information at ${base}/about; data: ${file})`)
  if (config.demo) {
    console.log(`demo users: ${security.model.org.users.map(u => u.login).join(', ')} (password "${DEMO_PASSWORD}" for those without one of their own)`)
    console.log(`sign in:    curl -s -X POST ${base}/auth/login -H 'content-type: application/json' -d '{"login":"alice","password":"${DEMO_PASSWORD}"}'`)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: committing and closing`)
    server.close().then(() => storage.close()).then(() => { db.close(); process.exit(0) }, e => { console.error(e); process.exit(1) })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

/** Errors that refuse the start with their message alone: a bad environment or configuration file, not a bug. */
const START_REFUSED: ReadonlySet<ErrorCodeValue> = new Set([ErrorCode.invalidConfig, ErrorCode.invalidCatalog, ErrorCode.invalidMetadata])

main().catch(e => {
  if (e instanceof FieldsyncError && START_REFUSED.has(e.code)) console.error(`fieldsync: ${e.message}`)
  else console.error(e)
  process.exit(1)
})
