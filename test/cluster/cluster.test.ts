// Three server instances (child processes) on one PostgreSQL schema and a Redis of the test's own, a
// client on each, 20 heavily edited records with same-field races and forbidden writes; one instance is
// killed (-9) mid-batch and restarted, Redis is restarted once. Then: nothing a client wrote that it may
// write is lost, every replica (each client, storage) is identical, each forbidden change has exactly one
// receipt, a reader following the changes feed by position missed nothing, no lock is left held and no
// subscription leaked.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import WebSocket from 'ws'
import type { WebsocketProvider } from 'y-websocket'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { addNote, readRecord, setField } from '../../src/docs/record.ts'
import type { DocName } from '../../src/ids.ts'
import { openPgStores, type PgStores } from '../../src/server/storage/pg-stores.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { loginTo, twoInstances } from '../helpers/cluster.ts'
import { REDIS_URL, requireRedis, tempSchema, type TempSchema } from '../helpers/pg.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { chance, int, pick, withSeed } from '../helpers/seed.ts'

const catalog = loadCatalog()
const ROUNDS = 60
const KILL_AT = 15
const RESTART_AT = 25
const REDIS_RESTART_AT = 40

interface Client {
  readonly label: string
  readonly instance: number
  readonly docs: Map<DocName, Y.Doc>
  readonly providers: WebsocketProvider[]
}

const entityOf = (name: DocName) => catalog.entities.get(name.split('/')[0])!
/** JSON with keys sorted: replicas that integrated the same updates in another order list map keys in another order. */
const canonical = (v: unknown): string => v !== null && typeof v === 'object'
  ? Array.isArray(v) ? `[${v.map(canonical).join(',')}]` : `{${Object.keys(v).sort().map(k => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`
  : JSON.stringify(v)
const stateOf = (name: DocName, doc: Y.Doc): string => canonical(readRecord(doc, entityOf(name)))

describe('three instances on PostgreSQL + Redis', () => {
  it('lose nothing, stay identical and receipt each forbidden change once through a kill -9 and a Redis restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-cluster-'))
    let schema: TempSchema | undefined
    let redis: RedisServer | undefined
    let stores: PgStores | undefined
    let redisClient: Redis | undefined
    const instances: (ServerProcess | null)[] = []
    const clients: Client[] = []
    let reading = false
    try {
      await withSeed(async (gen, seed) => {
        schema = await tempSchema()
        redis = await startRedisServer()
        const app = `fs-cluster-${schema.schema}`
        const url = new URL(schema.url)
        url.searchParams.set('application_name', app)
        const prefix = `fs-cluster-${seed}`
        const env = {
          DATABASE_URL: url.toString(), REDIS_URL: redis.url, REDIS_PREFIX: prefix, DATA_DIR: dir, DEMO: '1', CUSTOM_ENTITIES: '',
          COMPACT_AFTER: '40', IDLE_UNLOAD_MS: '600000',
          REFUSED_UPDATES_BURST: '100000', REFUSED_UPDATES_PER_SECOND: '100000', MAX_RECEIPTS_PER_RECORD: '100000'
        }
        // Started together: migrations and the demo seed must happen once between them.
        instances.push(...await Promise.all([0, 1, 2].map(() => startServerProcess(env))))
        stores = await openPgStores(schema.url, catalog, { maxAttachmentBytes: 1024, poolSize: 2 })
        const owned = async (entity: string): Promise<DocName[]> =>
          (await stores!.pool.query<{ id: string }>(`SELECT id FROM rec_${entity} WHERE ownerid = 'systemuser/u-alice' ORDER BY id LIMIT 10`)).rows.map(r => `${entity}/${r.id}` as DocName)
        const records = [...await owned('account'), ...await owned('contact')]
        expect(records).toHaveLength(20)
        expect((await stores.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM rec_account WHERE ownerid = 'systemuser/u-alice'`)).rows[0].n).toBe(10) // seeded once

        // A token one instance issued works on every instance (the secret is kept in the database).
        const alice = await loginTo(instances[0]!.port, 'alice')
        const nina = await loginTo(instances[2]!.port, 'nina')
        const connect = async (label: string, instance: number, token: string): Promise<Client> => {
          const c: Client = { label, instance, docs: new Map(), providers: [] }
          for (const r of records) {
            const doc = new Y.Doc()
            c.docs.set(r, doc)
            c.providers.push(provider(`ws://127.0.0.1:${instances[instance]!.port}/sync`, r, doc, token))
          }
          await Promise.all(c.providers.map(p => synced(p, 30_000)))
          clients.push(c)
          return c
        }
        const a0 = await connect('alice@0', 0, alice)
        const a1 = await connect('alice@1', 1, alice)
        const n2 = await connect('nina@2', 2, nina)

        redisClient = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: null })
        await redisClient.connect()
        const subscribers = async (): Promise<number> => (await redisClient!.pubsub('NUMSUB', `${prefix}:records`) as [string, number])[1]
        expect(await subscribers()).toBe(3)

        // A reader of the changes feed, following it by position while everything runs.
        const shadow = new Map<DocName, Y.Doc>(records.map(r => [r, new Y.Doc()]))
        let cursor = 0
        reading = true
        const follow = async (): Promise<void> => {
          const head = await stores!.log.head()
          for (const [doc] of await stores!.log.changedSince(cursor, head)) {
            const d = shadow.get(doc)
            if (d !== undefined) Y.applyUpdate(d, await stores!.log.stateSince(doc, cursor, head))
          }
          cursor = head
        }
        const reader = (async () => { while (reading) { await follow(); await new Promise(r => setImmediate(r)) } })()

        const initialPhone = new Map(records.map(r => [r, readRecord(a0.docs.get(r)!, entityOf(r)).fields.telephone1]))
        const stamp = (by: string) => ({ by, at: new Date().toISOString() })
        const allowed: { record: DocName, note: string }[] = []
        const forbidden: string[] = []
        for (let k = 0; k < ROUNDS; k++) {
          const r0 = pick(gen, records)
          const r1 = chance(gen, 0.5) ? r0 : pick(gen, records) // half the time a same-field race
          for (const [c, r] of [[a0, r0], [a1, r1]] as const) {
            const doc = c.docs.get(r)!
            const note = `${c.label.replace('@', '-at-')}-${k}` // a note id: [A-Za-z0-9_-]
            addNote(doc, entityOf(r), note, { subject: note, text: `round ${k}` }, stamp('u-alice'))
            setField(doc, entityOf(r), 'telephone1', note, stamp('u-alice'))
            allowed.push({ record: r, note })
          }
          // nina reads alice's records but may not write them
          const rf = pick(gen, records)
          const attempt = `nina-${k}`
          setField(n2.docs.get(rf)!, entityOf(rf), 'telephone1', attempt, stamp('u-nina'))
          forbidden.push(attempt)
          if (k === KILL_AT) await instances[1]!.kill('SIGKILL') // alice@1's edits of this round are in flight
          if (k === RESTART_AT) instances[1] = await startServerProcess({ ...env, PORT: String(instances[1]!.port) })
          if (k === REDIS_RESTART_AT) await redis.restart()
          // Paced by what crosses instances: alice@0's note reaches nina on instance 2.
          try {
            await until(() => readRecord(n2.docs.get(r0)!, entityOf(r0)).notes[`alice-at-0-${k}`] !== undefined, `round ${k} reaches instance 2`, [], 20_000)
          } catch (e) {
            const d = new Y.Doc(); for (const u of (await stores.log.load(r0)).updates) Y.applyUpdate(d, u.data)
            console.error('not delivered:', r0, 'stored', Object.keys(readRecord(d, entityOf(r0)).notes), 'a0', Object.keys(readRecord(a0.docs.get(r0)!, entityOf(r0)).notes), 'n2', Object.keys(readRecord(n2.docs.get(r0)!, entityOf(r0)).notes), n2.providers.map(p => p.wsconnected).join())
            throw e
          }
          if (int(gen, 0, 3) === 0) await new Promise(r => setImmediate(r))
        }

        // Quiescence: every client holds every allowed note, and all replicas are equal.
        const notesIn = (doc: Y.Doc, r: DocName): Record<string, unknown> => readRecord(doc, entityOf(r)).notes
        await until(() => clients.every(c => allowed.every(a => notesIn(c.docs.get(a.record)!, a.record)[a.note] !== undefined)), 'every allowed note on every client', [], 60_000)
        try {
          await until(() => records.every(r => new Set(clients.map(c => stateOf(r, c.docs.get(r)!))).size === 1), 'clients identical', [], 30_000)
        } catch (e) {
          for (const r of records) {
            const states = clients.map(c => readRecord(c.docs.get(r)!, entityOf(r)))
            const flat = (x: ReturnType<typeof readRecord>): Map<string, string> => new Map(Object.entries(x).flatMap(([part, o]) => Object.entries(o as object).map(([k, v]) => [`${part}.${k}`, JSON.stringify(v)])))
            const base = flat(states[0])
            states.slice(1).forEach((x, i) => {
              const f = flat(x)
              const keys = new Set([...base.keys(), ...f.keys()])
              const diff = [...keys].filter(k => base.get(k) !== f.get(k)).map(k => `${k}: ${base.get(k)} / ${f.get(k)}`)
              if (diff.length > 0) console.error('replicas differ:', r, clients[i + 1].label, diff.join(' | '))
            })
          }
          throw e
        }
        const stored = new Map<DocName, Y.Doc>()
        for (const r of records) {
          const d = new Y.Doc()
          for (const u of (await stores.log.load(r)).updates) Y.applyUpdate(d, u.data)
          stored.set(r, d)
        }
        for (const r of records) {
          const state = stateOf(r, stored.get(r)!)
          for (const c of clients) expect(stateOf(r, c.docs.get(r)!), `${c.label} ${r}`).toBe(state)
          // one of alice's writes wins a race, nina's never stays; a record no round picked keeps its value
          const written = allowed.filter(a => a.record === r).map(a => a.note)
          const phone = readRecord(stored.get(r)!, entityOf(r)).fields.telephone1
          if (written.length > 0) expect(written, `${r}'s telephone`).toContain(phone)
          else expect(phone, `${r}, never written, keeps its telephone`).toEqual(initialPhone.get(r))
        }
        for (const a of allowed) expect(notesIn(stored.get(a.record)!, a.record)[a.note], `${a.note} on ${a.record}`).toBeDefined()

        // Exactly one receipt per forbidden change.
        const receipts = (await stores.log.receipts('u-nina', 0, 1_000_000)).filter(r => r.field === 'telephone1')
        const counts = new Map<string, number>()
        for (const r of receipts) counts.set(String(r.attempted), (counts.get(String(r.attempted)) ?? 0) + 1)
        expect([...counts.keys()].sort()).toEqual([...forbidden].sort())
        expect([...counts.values()].every(n => n === 1)).toBe(true)

        // The feed reader, which only ever read by position, holds the same.
        reading = false
        await reader
        await follow()
        for (const r of records) expect(stateOf(r, shadow.get(r)!), `feed ${r}`).toBe(stateOf(r, stored.get(r)!))

        // Nothing left locked or open in a transaction by the instances; one subscription each.
        const held = await stores.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name = $1 AND (l.locktype = 'advisory' OR a.state LIKE 'idle in transaction%')`, [app])
        expect(held.rows[0].n).toBe(0)
        expect(await subscribers()).toBe(3)
        for (const c of clients) for (const p of c.providers) p.destroy()
        await Promise.all(instances.map(i => i?.kill('SIGTERM')))
        expect(await subscribers()).toBe(0)
      })
    } catch (e) {
      // What the instances printed tells what went wrong on their side.
      for (const [i, p] of instances.entries()) console.error(`instance ${i}:\n${p?.output().slice(-3000) ?? ''}`)
      throw e
    } finally {
      reading = false
      for (const c of clients) for (const p of c.providers) p.destroy()
      await Promise.all(instances.map(i => i?.kill('SIGKILL')))
      redisClient?.disconnect()
      await stores?.close()
      await redis?.stop()
      await schema?.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)

  it('carry a privilege change, a token revocation and presence from one instance to the sockets of another', async () => {
    const { instances, stores, record, open, stop } = await twoInstances(catalog, 'fs-cluster')
    try {
      const [i0, i1] = instances.map(i => i.port)
      const alice = await open(i0, 'alice')
      const nina = await open(i1, 'nina')
      // alice's presence on instance 0 reaches nina's socket on instance 1, with the identity the server set
      alice.awareness.setLocalState({ cursor: 1 })
      await until(() => [...nina.awareness.getStates().values()].some(st => (st as { user?: { id?: string } }).user?.id === 'u-alice'), 'alice\'s presence on instance 1', [], 10_000)
      // A commit whose message Redis never carried (appended here, published nowhere) reaches both
      // instances' sockets within a sweep of the loaded records.
      const copy = new Y.Doc()
      for (const u of (await stores.log.load(record)).updates) Y.applyUpdate(copy, u.data)
      const sv = Y.encodeStateVector(copy)
      setField(copy, entityOf(record), 'telephone1', 'never published', { by: 'u-alice', at: new Date().toISOString() })
      await stores.log.append(record, Y.encodeStateAsUpdate(copy, sv))
      const phoneOf = (p: WebsocketProvider): unknown => readRecord(p.doc, entityOf(record)).fields.telephone1
      await until(() => phoneOf(alice) === 'never published' && phoneOf(nina) === 'never published', 'an unpublished commit on both instances', [alice.doc, nina.doc], 10_000)
      const closes: number[] = []
      nina.on('connection-close', e => { if (e !== null) closes.push(e.code) })
      // avery takes nina's roles away on instance 0: her socket on instance 1 closes with 4403
      const avery = await loginTo(i0, 'avery')
      const roles = await fetch(`http://127.0.0.1:${i0}/api/admin/users/u-nina/roles`, { method: 'PUT', headers: { authorization: `Bearer ${avery}`, 'content-type': 'application/json' }, body: JSON.stringify({ roles: [] }) })
      expect(roles.status).toBe(200)
      await until(() => closes.includes(CloseCode.readRevoked), 'nina closed with 4403 on instance 1', [], 10_000)
      // a token revoked on instance 0 is refused on instance 1 at once, and a socket opened with it there closes (4401)
      const carol = await loginTo(i1, 'carol')
      const receipts = (token: string): Promise<number> => fetch(`http://127.0.0.1:${i1}/api/receipts`, { headers: { authorization: `Bearer ${token}` } }).then(r => r.status)
      expect(await receipts(carol)).toBe(200)
      const carolsDevice = new WebSocket(`ws://127.0.0.1:${i1}/device?token=${carol}`)
      carolsDevice.on('error', () => {})
      const carolClosed = new Promise<number>(resolve => carolsDevice.on('close', code => resolve(code)))
      await new Promise(resolve => carolsDevice.on('open', resolve))
      expect((await fetch(`http://127.0.0.1:${i0}/api/admin/users/u-carol/revoke-tokens`, { method: 'POST', headers: { authorization: `Bearer ${avery}` } })).status).toBe(200)
      expect(await receipts(carol)).toBe(401)
      expect(await Promise.race([carolClosed, new Promise(resolve => setTimeout(() => resolve('still open after 10 s'), 10_000).unref())])).toBe(CloseCode.tokenExpired)
    } finally {
      await stop()
    }
  }, 120_000)
})
