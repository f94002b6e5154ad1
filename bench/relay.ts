// bench/relay: R records x C clients x U field updates through a server, ours against
// @y/websocket-server (in memory, no auth) on the same machine in the same run.
// Usage: npm run bench:relay -- [records=20] [clients=5] [updates=100]
//   SAME_FIELD=1: all clients of a record write one field (a same-field conflict every round) instead of one field each.
// fieldsync runs from built JavaScript (`npm run build` first, as in production); TSX=1 runs it through tsx.
//   PROFILE_DIR=<dir> writes a V8 CPU profile of each server run there, ours and the peer's (whole run, start-up included).
//   NO_BUILD=1: use dist/ as it is (experiments). Server CPU is printed with its system (kernel) part.
//   SERVER_NODE_FLAGS='<flags>': node flags for the fieldsync server (an experiment: say --max-semi-space-size=32).
//   WARMUP=<rounds> (default 50): rounds of the same updates, sent and delivered before the measured window, for
//   both servers alike (a server in production runs warm; without it part of the window is unoptimized code). 0: none.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { buildCatalog } from '../src/docs/catalog.ts'
import { setField } from '../src/docs/record.ts'
import { execFileSync } from 'node:child_process'
import { spawnUntil, type Spawned } from '../tools/spawn.ts'

process.setMaxListeners(0) // each y-websocket provider adds a process 'exit' listener
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const WARMUP = Number(process.env.WARMUP ?? 50)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const [R, C, U] = [20, 5, 100].map((d, i) => Number(process.argv[2 + i] ?? d))
const account = buildCatalog().entities.get('account')!
const FIELDS_BY_CLIENT = ['numberofemployees', 'telephone1', 'accountnumber', 'name', 'address1_city']

/** Node flags that write a V8 CPU profile of a server run to PROFILE_DIR, named after the server. */
const profileArgs = (name: string): string[] => process.env.PROFILE_DIR === undefined
  ? []
  : ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]

interface Target { label: string, start (): Promise<{ proc: Spawned, url: string, token: string }> }

const TSX = process.env.TSX === '1'
if (!TSX && process.env.NO_BUILD !== '1') execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })

const ours: Target = {
  label: `fieldsync (auth, projection, SQLite FULL${TSX ? ', tsx' : ''})`,
  start: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-'))
    const proc = await spawnUntil({
      command: process.execPath, args: [...profileArgs('fieldsync'), ...(process.env.SERVER_NODE_FLAGS?.split(' ').filter(f => f !== '') ?? []), ...(TSX ? ['--import', 'tsx', 'src/server/main.ts'] : ['dist/server/main.js'])], cwd: ROOT,
      env: { ...process.env, PORT: '0', DATA_DIR: dir, CUSTOM_ENTITIES: '' }, ready: /listening on http:\/\/[^:]+:(\d+)\//
    })
    proc.child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const port = Number(proc.match[1])
    const r = await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user: 'avery' }) })
    return { proc, url: `ws://127.0.0.1:${port}/sync`, token: (await r.json() as { token: string }).token }
  }
}

const peer: Target = {
  label: '@y/websocket-server 0.1.1 (in memory, no auth)',
  start: async () => {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const proc = await spawnUntil({
      command: process.execPath, args: process.env.PROFILE_DIR === undefined
        ? ['node_modules/@y/websocket-server/src/server.js']
        // The peer dies on SIGTERM without writing its profile: exit normally instead.
        : [...profileArgs('peer'), '--input-type=module', '-e', "process.on('SIGTERM', () => process.exit(0)); await import('./node_modules/@y/websocket-server/src/server.js')"],
      cwd: ROOT,
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, ready: /running at/
    })
    return { proc, url: `ws://127.0.0.1:${port}`, token: 'unused' }
  }
}

const peakRssMiB = (pid: number): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

/** CPU seconds a process has used so far: user, system. */
const cpuSeconds = (pid: number): { user: number, system: number } => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 } // utime, stime in clock ticks (100/s on Linux)
}

const waitFor = async (cond: () => boolean, what: string, ms = 120_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 5))
  }
}

const run = async (t: Target): Promise<{ seconds: number, rate: number, rss: number, cpu: number, system: number }> => {
  const { proc, url, token } = await t.start()
  try {
    const clients: { doc: Y.Doc, p: WebsocketProvider, record: number }[] = []
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        const doc = new Y.Doc()
        const name = `account/acc${String(r + 1).padStart(4, '0')}`
        const p = new WebsocketProvider(url, name, doc, { params: { token }, WebSocketPolyfill: WebSocket as never, disableBc: true })
        clients.push({ doc, p, record: r })
      }
    }
    await waitFor(() => clients.every(c => c.p.synced), 'all clients synced')
    // The record must exist for setField; the peer server starts empty, so create it there first.
    for (let r = 0; r < R; r++) {
      const first = clients.find(c => c.record === r)!
      if (!first.doc.getMap('meta').has('entity')) {
        first.doc.transact(() => { first.doc.getMap('meta').set('entity', 'account'); first.doc.getMap('meta').set('id', `acc${r + 1}`) })
      }
    }
    await waitFor(() => clients.every(c => c.doc.getMap('meta').has('entity')), 'records visible to all')
    /** Rounds `from` to `to` (exclusive) of updates, each client one per round; resolves once every one is delivered. */
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        for (const [k, c] of clients.entries()) {
          // SAME_FIELD=1: every client of a record writes the same field (a same-field conflict in every round);
          // by default each client of a record writes its own field.
          const field = process.env.SAME_FIELD === '1' ? FIELDS_BY_CLIENT[0] : FIELDS_BY_CLIENT[k % C % FIELDS_BY_CLIENT.length]
          setField(c.doc, account, field, field === 'numberofemployees' ? i : `${field} ${i}`, { by: 'u-avery', at: '2026-11-27T10:00:00.000Z' })
        }
        await new Promise(r => setImmediate(r))
      }
      const target = clients.map(c => ({ record: c.record, client: c.doc.clientID, clock: Y.getState(c.doc.store, c.doc.clientID) }))
      await waitFor(() => target.every(t => clients.every(c => c.record !== t.record || Y.getState(c.doc.store, t.client) >= t.clock)), 'all updates delivered')
    }
    // (Not measured: the same work for both servers, so that the window measures code that has been optimized.)
    await send(0, WARMUP)
    const cpu0 = cpuSeconds(proc.child.pid!)
    const t0 = performance.now()
    await send(WARMUP, WARMUP + U)
    const seconds = (performance.now() - t0) / 1000
    const cpu1 = cpuSeconds(proc.child.pid!)
    const cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system
    const system = cpu1.system - cpu0.system
    const rss = peakRssMiB(proc.child.pid!)
    for (const c of clients) c.p.destroy()
    return { seconds, rate: (R * C * U) / seconds, rss, cpu, system }
  } finally {
    await proc.kill('SIGTERM')
  }
}

console.log(`bench/relay: ${R} records x ${C} clients x ${U} updates = ${R * C * U} updates, each delivered to ${C - 1} other clients${WARMUP > 0 ? ` (after ${WARMUP} rounds of warm-up, not measured)` : ''}`)
// Alternate the servers so that neither always runs on a cold or a warm client process.
const best = new Map<Target, number>()
const cpuPerUpdate = new Map<Target, number>()
for (let round = 0; round < ROUNDS; round++) {
  for (const t of round % 2 === 0 ? [peer, ours] : [ours, peer]) {
    const r = await run(t)
    best.set(t, Math.max(best.get(t) ?? 0, r.rate))
    const perUpdate = r.cpu / (R * C * U) * 1e6
    cpuPerUpdate.set(t, Math.min(cpuPerUpdate.get(t) ?? Infinity, perUpdate))
    console.log(`round ${round + 1}  ${t.label.padEnd(48)} ${r.seconds.toFixed(2).padStart(7)} s ${Math.round(r.rate).toString().padStart(8)} updates/s   server CPU ${perUpdate.toFixed(0)} us/update (system ${(r.system / (R * C * U) * 1e6).toFixed(0)})   server peak RSS ${r.rss.toFixed(0)} MiB`)
  }
}
console.log(`best of ${ROUNDS}: fieldsync ${Math.round(best.get(ours)!)} updates/s, peer ${Math.round(best.get(peer)!)} updates/s, ratio ${(best.get(ours)! / best.get(peer)!).toFixed(2)}x`)
console.log(`server CPU per update (lower is better): fieldsync ${cpuPerUpdate.get(ours)!.toFixed(0)} us, peer ${cpuPerUpdate.get(peer)!.toFixed(0)} us, ratio ${(cpuPerUpdate.get(ours)! / cpuPerUpdate.get(peer)!).toFixed(2)}x`)
process.exit(0)
