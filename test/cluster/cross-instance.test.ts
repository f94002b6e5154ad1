// What one instance decides reaches, and binds, every instance (two instances as child processes on one
// PostgreSQL schema, fanned out over the machine's Redis): a `superseded` entry for a user whose socket is
// on the other instance reaches that socket; and what a user may make a record keep (receipts, Yjs client
// ids) is bounded once for the record, however the user spreads the writes over the instances; a Yjs
// client id bound on one instance is another user's on no instance.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import type { DocName } from '../../src/ids.ts'
import { CloseCode, MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { decodeSyncMessage, encodeSyncStep1 } from '../../src/protocol/sync-messages.ts'
import { openPgStores, type PgStores } from '../../src/server/storage/pg-stores.ts'
import { until } from '../helpers/server.ts'
import { startServerProcess, stopCluster, type ServerProcess } from '../helpers/process.ts'
import { REDIS_URL, requireRedis, tempSchema, type TempSchema } from '../helpers/pg.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { loginTo } from '../helpers/cluster.ts'
import { rawAt, type Raw } from '../security/support.ts'
import { within } from '../security/sync-socket.ts'

const catalog = loadCatalog()
const account = catalog.entities.get('account')!
const cleanups = useCleanups()
const RECEIPTS = 4
const CLIENT_IDS = 3

let dir = ''
let schema: TempSchema | undefined
let stores: PgStores | undefined
const instances: ServerProcess[] = []
const ports: number[] = []
/** alice's accounts, one per test */
let records: DocName[] = []

beforeAll(async () => {
  await requireRedis()
  dir = mkdtempSync(join(tmpdir(), 'fieldsync-cross-'))
  schema = await tempSchema()
  const env = {
    DATABASE_URL: schema.url, REDIS_URL, REDIS_PREFIX: schema.schema, DATA_DIR: dir, DEMO: '1', CUSTOM_ENTITIES: '',
    MAX_RECEIPTS_PER_RECORD: String(RECEIPTS), MAX_CLIENT_IDS_PER_RECORD: String(CLIENT_IDS),
    // A copy behind (a commit it was never told of) stays behind until something takes its lock.
    CATCH_UP_SWEEP_MS: '3600000'
  }
  instances.push(...await Promise.all([0, 1].map(() => startServerProcess(env))))
  ports.push(...instances.map(i => i.port))
  stores = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 2 })
  records = (await stores.pool.query<{ id: string }>(`SELECT id FROM rec_account WHERE ownerid = 'systemuser/u-alice' ORDER BY id LIMIT 4`)).rows.map(r => `account/${r.id}` as DocName)
}, 120_000)

afterAll(() => stopCluster(instances, stores, schema, dir))

const tokens = new Map<string, string>()
const tokenOf = async (login: string): Promise<string> => {
  const known = tokens.get(login)
  if (known !== undefined) return known
  const token = await loginTo(ports[0], login)
  tokens.set(login, token)
  return token
}

/** A raw /sync socket (receipts pushed) of `login` on instance `i`, once the server's step 1 arrived. */
const socket = async (i: number, record: DocName, login: string): Promise<Raw> => {
  const s = await rawAt(cleanups, `ws://127.0.0.1:${ports[i]}/sync/${record}?token=${await tokenOf(login)}&receipts=1`)
  await within(s.received(m => m[0] === MessageType.sync && m[1] === SyncStep.step1), 10_000, 'the server\'s step 1')
  return s
}

/** A copy of the record as stored, writing under `clientID`. */
const copyOf = async (record: DocName, clientID: number): Promise<Y.Doc> => {
  const doc = new Y.Doc()
  for (const u of (await stores!.log.load(record)).updates) Y.applyUpdate(doc, u.data)
  doc.clientID = clientID
  return doc
}

/** Sends what `doc` holds beyond the record as stored once `f` changed it (as a y-websocket client
 * answers the server's step 1: an update refused whole is sent again with the next). */
const write = async (s: Raw, record: DocName, doc: Y.Doc, f: (doc: Y.Doc) => void): Promise<void> => {
  const stored = Y.encodeStateVector(await copyOf(record, 1))
  f(doc)
  s.update(Y.encodeStateAsUpdate(doc, stored))
}

const isOpen = (s: Raw): boolean => s.ws.readyState === s.ws.OPEN

/** Waits until everything sent on `s` so far was processed (its reply to a step 1 comes after); false when the socket closed instead. */
const processed = async (s: Raw): Promise<boolean> => {
  const from = s.messages.length
  if (!isOpen(s)) return false
  s.ws.send(encodeSyncStep1(new Y.Doc()))
  return within(Promise.race([
    s.received(m => s.messages.indexOf(m) >= from && m[0] === MessageType.sync && m[1] === SyncStep.step2).then(() => true),
    s.closed.then(() => false)
  ]), 10_000, 'the writes processed')
}

const iso = (ms: number): string => new Date(ms).toISOString()

describe('two instances on PostgreSQL + Redis', () => {
  /** Alice writes a value on instance 1, then bob, on instance 0, from a copy that had not seen hers and
   * later by clock (`between` runs in between): instance 0 decides that bob's value supersedes alice's.
   * Resolves with alice's socket and how many messages it had before bob wrote. */
  const aliceThenBob = async (record: DocName, clients: number, between: (now: number) => Promise<void> = async () => {}): Promise<{ aliceSocket: Raw, from: number }> => {
    const aliceSocket = await socket(1, record, 'alice')
    const bobSocket = await socket(0, record, 'bob')
    const aliceDoc = await copyOf(record, clients + 1)
    const bobDoc = await copyOf(record, clients + 2)
    const now = Date.now()
    await write(aliceSocket, record, aliceDoc, d => setField(d, account, 'telephone1', 'alice wrote', { by: 'u-alice', at: iso(now - 60_000) }))
    expect(await processed(aliceSocket)).toBe(true)
    await between(now)
    const from = aliceSocket.messages.length
    await write(bobSocket, record, bobDoc, d => setField(d, account, 'telephone1', 'bob wrote', { by: 'u-bob', at: iso(now - 30_000) }))
    expect(await processed(bobSocket)).toBe(true)
    await until(() => aliceSocket.receipts().some(r => r.record === record && r.reason === Reason.superseded), 'alice\'s socket on instance 1 told her value was superseded', [], 10_000)
    return { aliceSocket, from }
  }

  it('send a superseded entry to the loser\'s socket on the instance that did not decide it', async () => {
    const record = records[0]
    const { aliceSocket } = await aliceThenBob(record, 0x4000000)
    const stored = (await stores!.log.receipts('u-alice', 0, 1000)).filter(r => r.record === record && r.reason === Reason.superseded)
    expect(stored).toHaveLength(1)
    expect(aliceSocket.receipts().filter(r => r.reason === Reason.superseded)).toEqual([expect.objectContaining({ seq: stored[0].seq, attempted: 'alice wrote', kept: 'bob wrote' })])
  })

  it('send a superseded entry after the update that superseded the value, on an instance whose copy had to catch up first', async () => {
    const record = records[3]
    // A commit no instance was told of: instance 1's copy is behind it when bob's commit is published.
    const { aliceSocket, from } = await aliceThenBob(record, 0x4000010, async now => {
      const unheard = await copyOf(record, 0x4000013)
      const sv = Y.encodeStateVector(unheard)
      setField(unheard, account, 'websiteurl', 'https://unheard.example', { by: 'u-avery', at: iso(now - 45_000) })
      await stores!.log.append(record, Y.encodeStateAsUpdate(unheard, sv))
    })
    // What alice's socket had received when the entry came shows bob's value already.
    const entry = aliceSocket.messages.findIndex((m, i) => i >= from && m[0] === MessageType.receipts)
    const seen = new Y.Doc()
    for (const m of aliceSocket.messages.slice(0, entry)) {
      const msg = decodeSyncMessage(m)
      if (msg.type === MessageType.sync && msg.step !== SyncStep.step1) Y.applyUpdate(seen, msg.payload)
    }
    const stored = new Y.Doc()
    for (const u of (await stores!.log.load(record)).updates) Y.applyUpdate(stored, u.data)
    expect(readRecord(stored, account).fields).toMatchObject({ telephone1: 'bob wrote', websiteurl: 'https://unheard.example' })
    expect(readRecord(seen, account).fields.telephone1).toBe('bob wrote')
  })

  it('refuse, on either instance, a write under a Yjs client id another user bound on the other', async () => {
    const record = records[0]
    const aliceSocket = await socket(1, record, 'alice')
    const bobSocket = await socket(0, record, 'bob')
    const client = 0x4100001
    await write(aliceSocket, record, await copyOf(record, client), d => setField(d, account, 'websiteurl', 'https://alice.example', { by: 'u-alice', at: iso(Date.now()) }))
    expect(await processed(aliceSocket)).toBe(true)
    // bob writes under alice's client id, on the instance that did not bind it
    const forged = await copyOf(record, client)
    await write(bobSocket, record, forged, d => setField(d, account, 'websiteurl', 'https://bob.example', { by: 'u-bob', at: iso(Date.now()) }))
    await processed(bobSocket)
    expect(bobSocket.receipts().map(r => r.reason)).toContain(Reason.foreignClientId)
    const stored = await copyOf(record, 1)
    expect(stored.getMap('fields').get('websiteurl')).toBe('https://alice.example')
    expect((await stores!.pool.query<{ principal: string }>('SELECT principal FROM client_bindings WHERE doc = $1 AND client = $2', [record, client])).rows).toEqual([{ principal: 'u-alice' }])
  })

  it('bound a user\'s receipts and Yjs client ids in a record once, whichever instances the writes go to', async () => {
    // nina reads alice's records but may not write them: each write is refused with a receipt.
    const refused = records[1]
    const ninaSockets = [await socket(0, refused, 'nina'), await socket(1, refused, 'nina')]
    const ninaDoc = await copyOf(refused, 0x5000001)
    for (let k = 0; k < 4 * RECEIPTS && ninaSockets.some(isOpen); k++) {
      const s = isOpen(ninaSockets[k % 2]) ? ninaSockets[k % 2] : ninaSockets[(k + 1) % 2]
      await write(s, refused, ninaDoc, d => setField(d, account, 'telephone1', `nina ${k}`, { by: 'u-nina', at: iso(Date.now()) }))
      await processed(s)
    }
    const kept = (await stores!.log.receipts('u-nina', 0, 1000)).filter(r => r.record === refused)
    // the bound, and one receipt telling nina she reached it
    expect(kept.length).toBe(RECEIPTS + 1)
    expect(kept.at(-1)?.reason).toBe(Reason.quotaExceeded)
    for (const s of ninaSockets) expect((await within(s.closed, 10_000, 'nina\'s socket closed')).code).toBe(CloseCode.quotaExceeded)

    // alice may write: each write under a new Yjs client id binds one more to her.
    const written = records[2]
    const aliceSockets = [await socket(0, written, 'alice'), await socket(1, written, 'alice')]
    for (let k = 0; k < 4 * CLIENT_IDS && aliceSockets.some(isOpen); k++) {
      const s = isOpen(aliceSockets[k % 2]) ? aliceSockets[k % 2] : aliceSockets[(k + 1) % 2]
      const doc = await copyOf(written, 0x6000001 + k)
      await write(s, written, doc, d => setField(d, account, 'telephone1', `alice ${k}`, { by: 'u-alice', at: iso(Date.now()) }))
      await processed(s)
    }
    const bound = (await stores!.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM client_bindings WHERE doc = $1 AND principal = 'u-alice'`, [written])).rows[0].n
    expect(bound).toBe(CLIENT_IDS)
    for (const s of aliceSockets) expect((await within(s.closed, 10_000, 'alice\'s socket closed')).code).toBe(CloseCode.quotaExceeded)
  })
})
