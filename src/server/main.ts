// `npm start`: one process, a SQLite file under DATA_DIR, demo data on first start; with DATABASE_URL
// (and REDIS_URL) one of several instances sharing PostgreSQL (and Redis). The one place the storage
// adapters (storage/open-stores.ts) are wired to the ports the server runs on.

import { randomBytes } from 'node:crypto'
import { loadCatalog } from '../docs/catalog.ts'
import { parseConfig } from './config.ts'
import { ErrorCode, FieldsyncError, type ErrorCodeValue } from '../errors.ts'
import { createServer } from './app.ts'
import { openStores } from './storage/open-stores.ts'
import { loadMetadata } from '../metadata/metadata.ts'
import { Security } from './security.ts'
import { bootstrapModel, demoModel, seedDemoRecords } from './demo.ts'
import { DEMO_PASSWORD } from './authenticator.ts'
import { sizeHeap } from './heap-sizing.ts'

const main = async (): Promise<void> => {
  const config = parseConfig(process.env)
  sizeHeap(config.heapGrowingPercent)
  const catalog = loadCatalog(config.customEntitiesFile)
  const stores = await openStores(config, catalog)
  const { storage, projection } = stores
  // A new database is set up once, by whichever instance sharing it gets here first.
  const { security, fresh, secret } = await stores.exclusive(async () => {
    const fresh = stores.security.latest() === undefined
    const security = new Security(stores.security, config.demo ? demoModel(catalog) : bootstrapModel(catalog))
    if (config.demo && fresh) {
      const names = await seedDemoRecords(storage, catalog)
      console.log(`seeded the demo organization and ${names.length} records`)
    }
    let secret = config.jwtSecret ?? security.setting('jwt-secret')
    if (secret === undefined) {
      secret = randomBytes(32).toString('base64url')
      security.setSetting('jwt-secret', secret)
    }
    return { security, fresh, secret }
  })
  // The record log's adapter also serves the feed and the receipts (same tables, same transaction).
  const server = createServer({ config, catalog, storage, feed: storage, receipts: storage, projection, holdings: stores.holdings, security, metadata: loadMetadata(config.metadataFile, catalog), blobs: stores.blobs, secret, serverClient: stores.serverClient })
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
  console.log(`fieldsync listening on ${base}/  (open it for the app; server information at ${base}/about; data: ${stores.where}${config.redis === undefined ? '' : `, fan-out: Redis, channels ${config.redis.prefix}:*`})`)
  if (config.demo) {
    console.log(`demo users: ${security.model.org.users.map(u => u.login).join(', ')} (password "${DEMO_PASSWORD}" for those without one of their own)`)
    console.log(`sign in:    curl -s -X POST ${base}/auth/login -H 'content-type: application/json' -d '{"login":"alice","password":"${DEMO_PASSWORD}"}'`)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: committing and closing`)
    server.close().then(() => stores.close()).then(() => process.exit(0), e => { console.error(e); process.exit(1) })
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
