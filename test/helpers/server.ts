// Starts a real fieldsync server in-process on a free port over a fresh SQLite file, or with
// FIELDSYNC_STORE=pg over a fresh PostgreSQL schema with Redis fan-out (test-store.ts; the adapters wired
// to the storage ports as main.ts wires them).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { createServer, type FieldsyncServer, type ServerDeps } from '../../src/server/app.ts'
import { issueToken } from '../../src/server/auth.ts'
import { parseConfig } from '../../src/server/config.ts'
import { demoModel, seedDemoRecords } from '../../src/server/demo.ts'
import { loadMetadata } from '../../src/metadata/metadata.ts'
import { Security } from '../../src/server/security.ts'
import type { ChangesFeed } from '../../src/server/storage/feed-port.ts'
import { decodePackedUpdates } from '../../src/server/storage/packed-updates.ts'
import type { DocName } from '../../src/ids.ts'
import { openTestStores, type TestProjection, type TestStorage } from './test-store.ts'
import type { Cleanup } from './cleanups.ts'

export const SECRET = 'test-secret-test-secret-test-secret-0123456789'

export interface TestServer {
  port: number
  url: string
  wsUrl: string
  dir: string
  server: FieldsyncServer
  storage: TestStorage
  /** the changes feed the server reads (the adapter itself, on either store) */
  feed: ChangesFeed
  projection: TestProjection
  security: Security
  /** runs SQL on the server's database (`?` placeholders), SQLite or PostgreSQL */
  sql<T = Record<string, unknown>> (query: string, ...params: unknown[]): T[]
  /** the record's stored updates, read in the same turn */
  stored (name: DocName): Uint8Array[]
  token (login: string): Promise<string>
  /** closes the server and the database, keeping the files */
  stop (): Promise<void>
  /** a new server over the same files */
  restart (): Promise<TestServer>
  /** stops and deletes the files */
  dispose (): Promise<void>
}

/** What a test may put in place of the server's own: the sign-in clock, the identity provider's verifier. */
export type TestDeps = Partial<Pick<ServerDeps, 'clock' | 'external'>>

/** A server wired over a SQLite file in `dir` (a new folder with the demo data when absent), not listening. */
export const assembleTestServer = async (env: Record<string, string> = {}, dir?: string, deps: TestDeps = {}): Promise<Omit<TestServer, 'port' | 'url' | 'wsUrl' | 'restart'>> => {
  const fresh = dir === undefined
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'fieldsync-test-'))
  const first = parseConfig({ PORT: '0', DATA_DIR: dataDir, CUSTOM_ENTITIES: '', ...env })
  const catalog = loadCatalog(first.customEntitiesFile)
  const t = await openTestStores(dataDir, fresh, catalog, first.maxAttachmentBytes, env, { maxAttachmentBytesPerUser: first.maxAttachmentBytesPerUser })
  const config = parseConfig({ PORT: '0', DATA_DIR: dataDir, CUSTOM_ENTITIES: '', ...t.env, ...env })
  const { stores, storage, projection } = t
  const security = new Security(stores.security, demoModel(catalog))
  if (fresh && !t.seeded) await seedDemoRecords(stores.storage, catalog)
  const server = createServer({ config, catalog, storage: stores.storage, feed: stores.storage, receipts: stores.storage, projection, holdings: stores.holdings, security, metadata: loadMetadata(config.metadataFile, catalog), blobs: stores.blobs, secret: SECRET, serverClient: stores.serverClient, ...deps })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await server.close()
    await t.close()
  }
  return {
    dir: dataDir, server, storage, feed: stores.storage, projection, security, sql: t.sql,
    stored: name => t.sql<{ data: Uint8Array, parts: number }>('SELECT data, parts FROM record_updates WHERE doc = ? ORDER BY seq', name).flatMap(r => {
      const data = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength)
      return r.parts === 1 ? [data] : decodePackedUpdates(data, r.parts)
    }),
    token: async login => {
      const user = security.model.org.users.find(u => u.login === login)
      if (user === undefined) throw new Error(`no user ${login}`)
      return issueToken(SECRET, user, 3600)
    },
    stop,
    dispose: async () => { await stop(); await t.drop(); rmSync(dataDir, { recursive: true, force: true }) }
  }
}

export const startTestServer = async (env: Record<string, string> = {}, dir?: string, deps: TestDeps = {}): Promise<TestServer> => {
  const assembled = await assembleTestServer(env, dir, deps)
  const { server, stop, dir: dataDir } = assembled
  const port = await server.listen()
  const self: TestServer = {
    ...assembled,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/sync`,
    // The same port, so that clients reconnect to the restarted server.
    restart: async () => { await stop(); return startTestServer({ ...env, PORT: String(port) }, dataDir, deps) }
  }
  return self
}

/** A real y-websocket client provider on `name`. */
export const provider = (wsUrl: string, name: string, doc: Y.Doc, token: string, params: Record<string, string> = {}): WebsocketProvider =>
  new WebsocketProvider(wsUrl, name, doc, { params: { token, ...params }, WebSocketPolyfill: WebSocket as never, disableBc: true })

/** Waits until `predicate` holds, re-checking on every update of `docs` (and every 20 ms), within `ms`. */
export const until = (predicate: () => boolean, what: string, docs: Y.Doc[] = [], ms = 10_000): Promise<void> =>
  new Promise((resolve, reject) => {
    const check = (): void => {
      if (!predicate()) return
      cleanup()
      resolve()
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
    const interval = setInterval(check, 20)
    const cleanup = (): void => { clearTimeout(timer); clearInterval(interval); for (const d of docs) d.off('update', check) }
    for (const d of docs) d.on('update', check)
    check()
  })

export const synced = (p: WebsocketProvider, ms = 10_000): Promise<void> =>
  until(() => p.synced, 'provider synced', [], ms)

/** One y-websocket client on `name` for each of `logins`, each synced (their providers destroyed after the test). */
export const syncedEditors = async (s: Pick<TestServer, 'wsUrl' | 'token'>, cleanups: Cleanup[], name: string, logins: readonly string[]): Promise<Y.Doc[]> => {
  const docs: Y.Doc[] = []
  for (const login of logins) {
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, name, doc, await s.token(login))
    cleanups.push(() => p.destroy())
    await synced(p)
    docs.push(doc)
  }
  return docs
}
