// A multi-record command is decided on what every instance committed: two instances on one PostgreSQL
// schema that hear nothing of each other over Redis (distinct prefixes), so that one's copy of a lead is
// behind when the other disqualified it. The command's parts are decided under their records' locks, after
// the copies caught up, not on the copies as they were.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { readRecord } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { openPgStores, type PgStores } from '../../src/server/storage/pg-stores.ts'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { startServerProcess, stopCluster, type ServerProcess } from '../helpers/process.ts'
import { REDIS_URL, requireRedis, tempSchema, type TempSchema } from '../helpers/pg.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { loginTo } from '../helpers/cluster.ts'

const catalog = loadCatalog()
const cleanups = useCleanups()
let dir = ''
let schema: TempSchema | undefined
let stores: PgStores | undefined
const instances: ServerProcess[] = []

beforeAll(async () => {
  await requireRedis()
  dir = mkdtempSync(join(tmpdir(), 'fieldsync-cluster-commands-'))
  schema = await tempSchema()
  const env = (prefix: string): Record<string, string> => ({
    DATABASE_URL: schema!.url, REDIS_URL, REDIS_PREFIX: `${schema!.schema}-${prefix}`, DATA_DIR: dir, DEMO: '1', CUSTOM_ENTITIES: '', IDLE_UNLOAD_MS: '600000', CATCH_UP_SWEEP_MS: '3600000'
  })
  instances.push(await startServerProcess(env('a')))
  instances.push(await startServerProcess(env('b')))
  stores = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 1 })
}, 120_000)

afterAll(() => stopCluster(instances, stores, schema, dir))

const deviceOn = async (instance: number, login: string): Promise<FieldsyncDevice> => {
  const folder = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
  const port = instances[instance].port
  const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${port}`, token: await loginTo(port, login), store: new SqliteLocalStore(join(folder, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
  cleanups.push(async () => { await d.close(); rmSync(folder, { recursive: true, force: true }) })
  return d
}

const statecode = async (record: string): Promise<unknown> =>
  (await stores!.pool.query<{ statecode: number }>('SELECT statecode FROM rec_lead WHERE id = $1', [record.split('/')[1]])).rows[0]?.statecode

describe('a command over several records on two instances', () => {
  it('is rejected as a whole when the lead was disqualified on the other instance, whose commit this copy had not heard of', async () => {
    const alice = await deviceOn(0, 'alice')
    const nina = await deviceOn(1, 'nina')
    await alice.sync()
    const lead = await alice.create('lead', { subject: 'Fleet renewal', companyname: 'Tailspin Toys', firstname: 'Kira', lastname: 'Ito', emailaddress1: 'kira@tailspin.example', budgetamount: 120000 })
    await alice.sync()
    const res = await fetch(`http://127.0.0.1:${instances[0].port}/api/records/lead/${lead.split('/')[1]}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await loginTo(instances[0].port, 'alice')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'team/t-north' }) })
    expect(res.status).toBe(200)
    await alice.sync()
    await nina.sync()
    expect(await nina.store.records()).toContain(lead)
    // Instance 0 holds the lead loaded (alice's device has it); nina disqualifies it on instance 1.
    alice.disconnect()
    const created = await alice.qualify(lead)
    await nina.disqualify(lead)
    await nina.sync()
    expect(await statecode(lead)).toBe(2)
    await alice.sync()
    const got = (await alice.inbox()).map(i => i.receipt as Receipt)
    expect(got.map(r => [r.record, r.change, r.reason]).sort()).toEqual([
      [lead, 'command', 'invalid-value'], ...created.map(r => [r, 'command', 'command-rejected'])
    ].sort())
    expect(await statecode(lead)).toBe(2)
    for (const r of created) {
      const [entity, id] = r.split('/')
      expect((await stores!.pool.query(`SELECT id FROM rec_${entity} WHERE id = $1`, [id])).rows, `${r} not created`).toEqual([])
    }
    expect(readRecord(await alice.open(lead)).meta.statecode).toBe(2)
  })
})
