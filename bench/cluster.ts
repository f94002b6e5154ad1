// bench/cluster: updates/s through one SQLite instance, one PostgreSQL instance and three PostgreSQL
// instances with Redis fan-out (same machine, same run); cross-instance delivery latency; how long the
// clients of a killed instance take to be back in sync after it is restarted.
// Usage: npm run bench:cluster -- [records=20] [clients=6] [updates=100]
//   needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test: a schema of its
//   own, dropped after) and redis-server (one of its own on a free port).
//   COUNT_PG=1: the instances reach PostgreSQL through a proxy that counts statements and round trips.
//   PROFILE_DIR=<dir>: a V8 CPU profile of each of the three instances during their burst.
//   TSX=1: the instances run through tsx instead of from `npm run build`'s dist/.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import pg from 'pg'
import { WebsocketProvider } from 'y-websocket'
import { buildCatalog } from '../src/docs/catalog.ts'
import { readRecord, setField } from '../src/docs/record.ts'
import { spawnUntil, type Spawned } from '../tools/spawn.ts'
import { cpuSeconds } from './lib/bench-servers.ts'

process.setMaxListeners(0) // each y-websocket provider adds a process 'exit' listener
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const [R, C, U] = [20, 6, 100].map((d, i) => Number(process.argv[2 + i] ?? d))
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const account = buildCatalog().entities.get('account')!

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => { const port = (s.address() as { port: number }).port; s.close(() => resolve(port)) })
})

const PROFILE_DIR = process.env.PROFILE_DIR
const PROFILE_PRELOAD = fileURLToPath(new URL('./lib/cpu-profile-preload.mjs', import.meta.url))
let profiles = 0

// The instances run from built JavaScript (`npm run build` first, as in production and bench/relay);
// TSX=1 runs them through tsx (what `npm start` does: about a fifth more CPU per update here).
const TSX = process.env.TSX === '1'

/** With PROFILE_DIR, SIGUSR2 starts and stops a CPU profile of the instance (cpu-profile-preload.mjs). */
const startInstance = (env: Record<string, string>): Promise<Spawned> => spawnUntil({
  command: process.execPath, args: [...(PROFILE_DIR === undefined ? [] : ['--import', PROFILE_PRELOAD]), ...(TSX ? ['--import', 'tsx', 'src/server/main.ts'] : ['dist/server/main.js'])], cwd: ROOT,
  env: { ...process.env, PORT: '0', CUSTOM_ENTITIES: '', ...(PROFILE_DIR === undefined ? {} : { CPU_PROFILE_FILE: join(PROFILE_DIR, `instance-${++profiles}.cpuprofile`) }), ...env },
  ready: /listening on http:\/\/[^:]+:(\d+)\//, timeoutMs: 120_000
})

/** Starts or stops the CPU profiles of `instances` (PROFILE_DIR; stopping writes them). */
const toggleProfiles = async (instances: readonly Spawned[], what: 'started' | 'written'): Promise<void> => {
  if (PROFILE_DIR === undefined) return
  const seen = instances.map(p => p.output().split(`cpu-profile: ${what}`).length)
  for (const p of instances) p.child.kill('SIGUSR2')
  await until(() => instances.every((p, i) => p.output().split(`cpu-profile: ${what}`).length > seen[i]), `profiles ${what}`, 30_000)
}

const portOf = (s: Spawned): number => Number(s.match[1])

const token = async (port: number): Promise<string> =>
  ((await (await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user: 'avery' }) })).json()) as { token: string }).token

const until = async (f: () => boolean, what: string, ms = 120_000): Promise<void> => {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 5))
  }
}

/** `closes`: the close codes its sockets saw (printed when a wait fails) */
interface Client { instance: number, docs: Y.Doc[], providers: WebsocketProvider[], closes: Map<number, number> }

const connect = async (ports: readonly number[], instance: number, tok: string, records: readonly string[]): Promise<Client> => {
  const docs = records.map(() => new Y.Doc())
  const providers = records.map((r, i) => new WebsocketProvider(`ws://127.0.0.1:${ports[instance]}/sync`, r, docs[i], { params: { token: tok }, WebSocketPolyfill: WebSocket as never, disableBc: true }))
  await until(() => providers.every(p => p.synced), 'clients synced')
  const closes = new Map<number, number>()
  for (const p of providers) p.on('connection-close', (e: CloseEvent | null) => { const code = e?.code ?? 0; closes.set(code, (closes.get(code) ?? 0) + 1) })
  return { instance, docs, providers, closes }
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

/** CPU seconds of the processes a run involves, and PostgreSQL round trips, at one moment. */
interface Sample {
  readonly instances: number
  /** PostgreSQL backend pid -> CPU seconds (the backends serving the instances' connections) */
  readonly pg: ReadonlyMap<number, number>
  readonly redis: number
  /** this process: the y-websocket clients */
  readonly clients: number
  /** statements and round trips to PostgreSQL (COUNT_PG=1), else NaN */
  readonly pgCount: { readonly statements: number, readonly trips: number }
}

interface Meter { sample (): Promise<Sample> }

/** Per update: CPU ms of each kind of process, and PostgreSQL statements and round trips. */
interface Cost { readonly instances: number, readonly pg: number, readonly redis: number, readonly clients: number, readonly statements: number, readonly trips: number }

const costOf = (a: Sample, b: Sample, updates: number): Cost => {
  // a backend that started during the run counts from zero; one that ended is not seen
  let pgSeconds = 0
  for (const [pid, s] of b.pg) pgSeconds += s - (a.pg.get(pid) ?? 0)
  const ms = (x: number): number => x * 1000 / updates
  return { instances: ms(b.instances - a.instances), pg: ms(pgSeconds), redis: ms(b.redis - a.redis), clients: ms(b.clients - a.clients), statements: (b.pgCount.statements - a.pgCount.statements) / updates, trips: (b.pgCount.trips - a.pgCount.trips) / updates }
}

const cpuOrZero = (pid: number): number => { try { return cpuSeconds(pid) } catch { return 0 } }

/** Samples `instances`, PostgreSQL backends whose application_name is `app` (read through `admin`),
 * `redis` and this process; `pgCount` reads the counting proxy. */
const meterOf = (o: { instances: () => readonly Spawned[], admin?: pg.Client, app?: string, redis?: Spawned, pgCount?: () => Promise<Sample['pgCount']> }): Meter => ({
  sample: async () => {
    const pids = o.admin === undefined ? [] : (await o.admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [o.app])).rows.map(r => r.pid)
    const usage = process.cpuUsage()
    return {
      instances: o.instances().reduce((n, p) => n + cpuOrZero(p.child.pid!), 0),
      pg: new Map(pids.map(pid => [pid, cpuOrZero(pid)])),
      redis: o.redis === undefined ? 0 : cpuOrZero(o.redis.child.pid!),
      clients: (usage.user + usage.system) / 1e6,
      pgCount: o.pgCount === undefined ? { statements: NaN, trips: NaN } : await o.pgCount()
    }
  }
})

/** Asks the counting proxy (pg-count-proxy.ts) for its counts. */
const countsOf = (proxy: Spawned): (() => Promise<Sample['pgCount']>) => {
  let asked = 0
  return async () => {
    asked++
    proxy.child.kill('SIGUSR2')
    let m: RegExpExecArray | null = null
    await until(() => (m = new RegExp(`pg-count ${asked} (\\d+) (\\d+)`).exec(proxy.output())) !== null, 'the proxy\'s count', 10_000)
    return { statements: Number(m![1]), trips: Number(m![2]) }
  }
}

const formatCost = (c: Cost): string => {
  const f = (x: number): string => x.toFixed(2)
  return `CPU ms/update: instances ${f(c.instances)}, PostgreSQL backends ${f(c.pg)}, Redis ${f(c.redis)}, clients ${f(c.clients)}` +
    (Number.isNaN(c.trips) ? '' : `; PostgreSQL per update: ${c.statements.toFixed(2)} statements, ${c.trips.toFixed(2)} round trips`)
}

/** C clients spread over the instances write U updates each (own field per client, records in turn); the
 * time until every client holds every client's last value of every record. Delivery latency: from a
 * write to its sight on a client of another instance. */
const run = async (label: string, ports: number[], records: string[], meter: Meter, starting?: () => Promise<void>): Promise<{ label: string, perSecond: number, latencies: number[], clients: Client[], cost: Cost }> => {
  const tok = await token(ports[0])
  const clients = await Promise.all(Array.from({ length: C }, (_, i) => connect(ports, i % ports.length, tok, records)))
  // one field per client (fields of one record merge without conflicts; address1_country marks the kill)
  const fields = ['telephone1', 'accountnumber', 'name', 'address1_city', 'websiteurl', 'emailaddress1', 'address1_line1', 'address1_postalcode']
  const latencies: number[] = []
  // Each client watches the other clients' fields on instances other than its own.
  clients.forEach(c => c.docs.forEach(d => d.getMap('fields').observe(e => {
    const now = Date.now()
    for (const k of e.keysChanged) {
      const v = d.getMap('fields').get(k)
      const m = typeof v === 'string' ? /^(\d+)@(\d+)#/.exec(v) : null
      if (m !== null && Number(m[2]) !== c.instance) latencies.push(now - Number(m[1]))
    }
  })))
  const last = (c: Client, i: number, r: number): unknown => c.docs[r].getMap('fields').get(fields[i % fields.length])
  const burst = async (round: string): Promise<void> => {
    for (let u = 0; u < U; u++) {
      clients.forEach((c, i) => {
        const r = (u + i) % records.length
        setField(c.docs[r], account, fields[i % fields.length], `${Date.now()}@${c.instance}#${round}${u}`, { by: 'u-avery', at: new Date().toISOString() })
      })
      if (u % 10 === 9) await new Promise(r => setImmediate(r))
    }
    await until(() => clients.every(o => records.every((_, r) => clients.every((c, i) => last(o, i, r) === last(c, i, r)))), `${label}: every client holds every last value`)
  }
  // The same burst once, not timed: the instances (started for this run) and the clients run their
  // code optimized, as a server that has run for a while does.
  await burst('w')
  latencies.length = 0
  await starting?.()
  const before = await meter.sample()
  const start = performance.now()
  await burst('')
  const seconds = (performance.now() - start) / 1000
  const cost = costOf(before, await meter.sample(), C * U)
  return { label, perSecond: (C * U) / seconds, latencies, clients, cost }
}

/** What an instance that stopped answering is doing: its /healthz, and its PostgreSQL sessions. */
const diagnose = async (instances: readonly Spawned[], admin: pg.Client, app: string): Promise<void> => {
  for (const [i, p] of instances.entries()) {
    const t0 = performance.now()
    const health = await fetch(`http://127.0.0.1:${portOf(p)}/healthz`, { signal: AbortSignal.timeout(5000) }).then(r => String(r.status), (e: Error) => e.message)
    console.error(`instance ${i} (pid ${p.child.pid}, exit ${p.child.exitCode} ${p.child.signalCode}): /healthz ${health} in ${Math.round(performance.now() - t0)} ms`)
  }
  const sessions = await admin.query(`SELECT a.pid, a.state, a.wait_event_type, a.wait_event, now() - a.xact_start AS xact, left(a.query, 80) AS query,
    (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted) AS advisory
    FROM pg_stat_activity a WHERE a.application_name = $1`, [app])
  for (const r of sessions.rows) console.error(JSON.stringify(r))
}

const close = (cs: Client[]): void => { for (const c of cs) for (const p of c.providers) p.destroy() }

const main = async (): Promise<void> => {
  if (!TSX) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })
  const dirs: string[] = []
  const procs: Spawned[] = []
  const dir = (): string => { const d = mkdtempSync(join(tmpdir(), 'fieldsync-bench-cluster-')); dirs.push(d); return d }
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  const schema = `fs_bench_${process.pid}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  // The instances' backends are told apart from others' by their application name (CPU per update).
  url.searchParams.set('application_name', schema)
  const redisPort = await freePort()
  const redis = await spawnUntil({ command: 'redis-server', args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], cwd: ROOT, env: { ...process.env }, ready: /Ready to accept connections/ })
  // COUNT_PG=1: the instances reach PostgreSQL through a proxy that counts round trips (it adds a hop,
  // so the rates of such a run are lower).
  let pgCount: (() => Promise<Sample['pgCount']>) | undefined
  if (process.env.COUNT_PG === '1') {
    const proxy = await spawnUntil({ command: process.execPath, args: ['--import', 'tsx', 'bench/lib/pg-count-proxy.ts', url.hostname, url.port || '5432'], cwd: ROOT, env: { ...process.env }, ready: /pg-count-proxy (\d+)/ })
    procs.push(proxy)
    url.hostname = '127.0.0.1'
    url.port = proxy.match[1]
    pgCount = countsOf(proxy)
  }
  console.log(`bench/cluster: load average ${loadavg().map(x => x.toFixed(2)).join(' ')} at the start`)
  try {
    const records = Array.from({ length: R }, (_, i) => `account/acc${String(i + 1).padStart(4, '0')}`)
    const results = []
    // 1. one instance on SQLite
    const sqlite = await startInstance({ DATA_DIR: dir() })
    procs.push(sqlite)
    const a = await run('1 instance, SQLite', [portOf(sqlite)], records, meterOf({ instances: () => [sqlite] }))
    close(a.clients); await sqlite.kill('SIGTERM'); results.push(a)
    // 2. three instances on PostgreSQL + Redis (started together: one migrates and seeds, the others wait)
    const env = { DATABASE_URL: url.toString(), REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_PREFIX: schema, DATA_DIR: dir() }
    const three = await Promise.all([0, 1, 2].map(() => startInstance(env)))
    procs.push(...three)
    // 3. one PostgreSQL instance alone first (the others idle)
    const pgMeter = (instances: readonly Spawned[]): Meter => meterOf({ instances: () => instances, admin, app: schema, redis, pgCount })
    const b = await run('1 instance, PostgreSQL', [portOf(three[0])], records, pgMeter([three[0]]))
    close(b.clients); results.push(b)
    const c = await run('3 instances, PostgreSQL + Redis', three.map(portOf), records, pgMeter(three), () => toggleProfiles(three, 'started'))
    await toggleProfiles(three, 'written')
    results.push(c)
    // Delivery latency at a steady pace (the burst above measures draining a queue): one client of
    // instance 0 writes a probe every 20 ms; clients of the other instances note when they see it.
    const probes: number[] = []
    const writer = c.clients.find(x => x.instance === 0)!
    const watchers = c.clients.filter(x => x.instance !== 0)
    const seen = new Map<string, number>()
    for (const w of watchers) w.docs[0].getMap('fields').observe(() => {
      const v = w.docs[0].getMap('fields').get('address1_country')
      if (typeof v === 'string' && v.startsWith('probe-')) seen.set(`${w.instance}:${v}`, Date.now())
    })
    for (let i = 0; i < 200; i++) {
      const sent = Date.now()
      setField(writer.docs[0], account, 'address1_country', `probe-${i}`, { by: 'u-avery', at: new Date().toISOString() })
      await until(() => watchers.every(w => seen.has(`${w.instance}:probe-${i}`)), `probe ${i}`, 30_000).catch(async e => {
        console.error(watchers.map(w => `${w.instance}: ${String(w.docs[0].getMap('fields').get('address1_country'))} ${w.providers[0].wsconnected} closes ${JSON.stringify([...w.closes])}`).join(', '), `writer: ${String(writer.docs[0].getMap('fields').get('address1_country'))}`)
        await diagnose(three, admin, schema)
        throw e
      })
      for (const w of watchers) probes.push(seen.get(`${w.instance}:probe-${i}`)! - sent)
      await new Promise(r => setTimeout(r, 20))
    }
    // 4. kill -9 one instance while its clients are connected, write meanwhile, restart it: time until its
    // clients hold what the others wrote.
    const victim = c.clients.filter(x => x.instance === 2)
    const other = c.clients.find(x => x.instance === 0)!
    const killedAt = performance.now()
    await three[2].kill('SIGKILL')
    records.forEach((_, r) => setField(other.docs[r], account, 'address1_country', `after-kill-${r}`, { by: 'u-avery', at: new Date().toISOString() }))
    const restarted = await startInstance({ ...env, PORT: String(portOf(three[2])) })
    procs.push(restarted)
    const up = performance.now()
    await until(() => victim.every(v => records.every((_, r) => readRecord(v.docs[r], account).fields.address1_country === `after-kill-${r}`)), 'the killed instance\'s clients back in sync').catch(e => {
      for (const v of [...victim, other]) {
        console.error(`client of instance ${v.instance} (closes ${JSON.stringify([...v.closes])}): ${records.map((_, r) => `${String(readRecord(v.docs[r], account).fields.address1_country)}${v.providers[r].wsconnected ? '' : ' (not connected)'}${v.providers[r].synced ? '' : ' (not synced)'}`).join(', ')}`)
      }
      throw e
    })
    const backInSync = performance.now() - killedAt
    const afterRestart = performance.now() - up
    close(c.clients)
    console.log(`bench/cluster: ${R} records, ${C} clients (spread over the instances), ${U} field updates each (after as many not timed, to warm up); node ${process.version}, server ${TSX ? 'through tsx' : 'built (dist/)'}`)
    for (const x of results) console.log(`  ${x.label.padEnd(34)} ${Math.round(x.perSecond).toString().padStart(6)} updates/s; ${formatCost(x.cost)}`)
    console.log(`  cross-instance delivery (3 instances), one probe every 20 ms: p50 ${percentile(probes, 0.5)} ms, p99 ${percentile(probes, 0.99)} ms (${probes.length} deliveries)`)
    console.log(`  cross-instance delivery during the burst above (queueing included): p50 ${percentile(c.latencies, 0.5)} ms, p99 ${percentile(c.latencies, 0.99)} ms`)
    console.log(`  clients of a killed instance back in sync: ${Math.round(backInSync)} ms after the kill (${Math.round(afterRestart)} ms after the restarted instance listened)`)
    console.log(`  load average ${loadavg().map(x => x.toFixed(2)).join(' ')} at the end`)
  } catch (e) {
    for (const p of procs) console.error(`--- instance output:\n${p.output().slice(-4000)}`)
    throw e
  } finally {
    for (const p of procs) await p.kill('SIGKILL')
    await redis.kill('SIGKILL')
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), e => { console.error(e); process.exit(1) })
