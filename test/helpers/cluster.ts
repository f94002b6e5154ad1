// Two server instances as child processes on one PostgreSQL schema, fanned out over the machine's Redis,
// with the demo data: what the cluster tests start, and how they sign in and end.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WebsocketProvider } from 'y-websocket'
import type { Catalog } from '../../src/docs/catalog-types.ts'
import type { DocName } from '../../src/ids.ts'
import * as Y from 'yjs'
import { openPgStores, type PgStores } from '../../src/server/storage/pg-stores.ts'
import { provider, synced } from './server.ts'
import { startServerProcess, type ServerProcess } from './process.ts'
import { REDIS_URL, requireRedis, tempSchema } from './pg.ts'

/** A token of `login` (demo password) from the instance on `port`. */
export const loginTo = async (port: number, login: string): Promise<string> => {
  const r = await fetch(`http://127.0.0.1:${port}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password: 'demo' }) })
  if (r.status !== 200) throw new Error(`login of ${login} answered ${r.status}`)
  return ((await r.json()) as { token: string }).token
}

export interface TwoInstances {
  readonly instances: readonly ServerProcess[]
  /** the store the instances share, as the test reads it */
  readonly stores: PgStores
  /** alice's first account */
  readonly record: DocName
  /** providers the test opened (destroyed at the end) */
  readonly providers: WebsocketProvider[]
  /** a y-websocket client of the record as `login` on the instance at `port`, once synced (destroyed at the end) */
  open (port: number, login: string): Promise<WebsocketProvider>
  /** providers destroyed, instances killed, schema and folder removed */
  stop (): Promise<void>
}

/** (`extra`: more of the instances' environment, e.g. IDLE_UNLOAD_MS) */
export const twoInstances = async (catalog: Catalog, prefix: string, extra: Record<string, string> = {}): Promise<TwoInstances> => {
  await requireRedis()
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-cluster-'))
  const schema = await tempSchema()
  const env = { DATABASE_URL: schema.url, REDIS_URL, REDIS_PREFIX: `${prefix}-${schema.schema}`, DATA_DIR: dir, DEMO: '1', CUSTOM_ENTITIES: '', ...extra }
  const instances = await Promise.all([0, 1].map(() => startServerProcess(env)))
  const stores = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 1 })
  const id = (await stores.pool.query<{ id: string }>(`SELECT id FROM rec_account WHERE ownerid = 'systemuser/u-alice' ORDER BY id LIMIT 1`)).rows[0].id
  const providers: WebsocketProvider[] = []
  const record = `account/${id}` as DocName
  return {
    instances, stores, record, providers,
    open: async (port, login) => {
      const p = provider(`ws://127.0.0.1:${port}/sync`, record, new Y.Doc(), await loginTo(port, login))
      providers.push(p)
      await synced(p)
      return p
    },
    stop: async () => {
      // (a provider whose doc received an update under its own client id changed that id, and then fails
      // to encode its presence on destroy: the test's own failure is the one to report)
      for (const p of providers) try { p.destroy() } catch {}
      await Promise.all(instances.map(i => i.kill('SIGKILL')))
      await stores.close()
      await schema.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
