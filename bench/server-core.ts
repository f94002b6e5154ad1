// bench/server-core: what one server core costs under a team's load, measured inside the server (its
// longest event-loop delay and CPU per phase, through bench/lib/loop-delay-phases.mjs) and from raw
// /device sockets (no device SDK, so the driver stays light):
//   storm    — D devices start their initial sync together, each of a user whose team owns R accounts;
//   periodic — 10 of them run a full cycle again with nothing changed;
//   live     — E devices stay online, each pushing edits of its team's hot records at a rate; the others
//              holding those records measure delivery (push to receipt of the change).
// Usage: npx tsx bench/server-core.ts [devices=100] [records=2000] [teams=10] [editors=25] [edits/s=500] [seconds=10]
// WARMUP=<seconds> (3) of live editing before the measured window.
// SERVER_NODE_ARGS="<args>" go to the server's node (--trace-gc, ...); SERVER_LOG=<file> keeps its output.
// SERVER_ROOT=<dir> runs the server of another checkout (an earlier commit's, for before/after figures).
// PROFILE_DIR=<dir> writes a V8 CPU profile of the server (whole run); PROFILE_PHASE=<n> CPU_PROFILE_FILE=<file>
// one of a phase (1: storm, 5: live, 7: shares, 9: roles; see bench/lib/loop-delay-phases.mjs).

import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn } from 'node:child_process'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import WebSocket from 'ws'
import { buildCatalog } from '../src/docs/catalog.ts'
import { createRecord, readRecord, setField } from '../src/docs/record.ts'
import { rowOf } from '../src/projection/rows.ts'
import { demoModel } from '../src/server/demo.ts'
import { Security } from '../src/server/security.ts'
import * as admin from '../src/authz/admin.ts'
import type { SecurityModel } from '../src/authz/model.ts'
import { SqliteRecordStorage } from '../src/server/storage/sqlite.ts'
import { openSqlite } from '../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../src/server/storage/sqlite-security.ts'
import { asRecordId, type DocName } from '../src/ids.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, holdingsDigest, readDeviceFrame, type DeviceFrame } from '../src/protocol/device-frames.ts'
import { SyncStep } from '../src/protocol/codes.ts'
import { spawnUntil } from '../tools/spawn.ts'

process.setMaxListeners(0)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const [D, R, T, E, RATE, SECONDS] = [100, 2000, 10, 25, 500, 10].map((d, i) => Number(process.argv[2 + i] ?? d))
const WARMUP = Number(process.env.WARMUP ?? 3)
const HOT = 200 // records of each team that are edited live
const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const userOf = (device: number): string => `u-t${device % T}-${Math.floor(device / T)}`

const model = (): SecurityModel => {
  let m = demoModel(catalog)
  const users: string[] = []
  for (let t = 0; t < T; t++) {
    const members: string[] = []
    for (let k = 0; k * T + t < D; k++) {
      const id = userOf(k * T + t)
      m = admin.addUser(m, { id, login: id.slice(2), fullName: id, businessUnitId: 'bu-north' })
      m = admin.setRoles(m, 'user', id, { roles: ['role-sales'] })
      members.push(id); users.push(id)
    }
    m = admin.addTeam(m, { id: `t-${t}`, name: `team ${t}`, businessUnitId: 'bu-north', members })
  }
  const sales = m.profiles.find(p => p.id === 'field-sales')!
  return admin.putProfile(m, catalog, { ...sales, users: [...sales.users, ...users] })
}

// The data, built once per parameter set and copied for each run.
const template = join(tmpdir(), `fieldsync-bench-core-${D}-${R}-${T}.db`)
if (!existsSync(template)) {
  const db = openSqlite(template)
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  const security = new Security(new SqliteSecurityStore(db), model())
  // No record holds a secured value: nothing for the server to place at its first start.
  security.setSetting('secured-fields-placed', JSON.stringify([...security.model.securedFields].sort()))
  for (let t = 0; t < T; t++) {
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < R; i++) {
      const id = asRecordId(`t${t}r${i}`)
      const doc = new Y.Doc()
      createRecord(doc, account, {
        id, ownerid: `team/t-${t}`, owningbusinessunit: 'bu-north',
        values: { name: `Account ${t}/${i}`, accountnumber: `A-${t}-${i}`, telephone1: `+47 555 ${i}`, emailaddress1: `info${i}@example.com`, address1_city: 'Oslo', industrycode: 1 + (i % 7), numberofemployees: i % 1000 }
      }, { by: 'u-alice', at: new Date().toISOString() })
      writes.push(storage.append(`account/${id}` as DocName, Y.encodeStateAsUpdate(doc), { row: { entity: 'account', id, values: rowOf(account, readRecord(doc, account)) } }))
    }
    await Promise.all(writes)
  }
  await storage.close(); db.close()
  console.log(`built ${T * R} accounts into ${template}`)
}
const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-core-'))
copyFileSync(template, join(dir, 'fieldsync.db'))

const server = await spawnUntil({
  command: process.execPath, args: [...(process.env.PROFILE_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : []), ...(process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(a => a !== ''), '--import', 'tsx', '--import', join(ROOT, 'bench/lib/loop-delay-phases.mjs'), 'src/server/main.ts'], cwd: process.env.SERVER_ROOT ?? ROOT,
  env: { ...process.env, PORT: '0', DATA_DIR: dir, CUSTOM_ENTITIES: '' }, ready: /listening on http:\/\/[^:]+:(\d+)\//
})
const port = Number(server.match[1])
// Whatever happens to this driver, the server goes with it.
process.on('exit', () => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }) })
process.on('uncaughtException', e => { console.error(e); console.error(`server output:\n${server.output().slice(-3000)}`); void server.kill('SIGKILL').then(() => { rmSync(dir, { recursive: true, force: true }); process.exit(1) }) })
const pid = server.child.pid!
/** The server's loop delay and CPU since the last call (the preload answers SIGUSR2). */
const phase = async (): Promise<string> => {
  const before = server.output().length
  server.child.kill('SIGUSR2')
  for (;;) {
    const m = /loop-delay [^\n]+/.exec(server.output().slice(before))
    if (m !== null) return m[0]
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
const cpuTicks = (): number => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]) }

interface Device {
  ws: WebSocket
  held: Set<string>
  cursor: number
  /** hot records' documents (editors) */
  docs: Map<string, Y.Doc>
  done: (request: number) => Promise<void>
  acks: number
  /** 'done' frames received (full and live cycles) */
  dones: number
}

/** undici may reuse a keep-alive socket the server just closed (ECONNRESET): such a request is sent again. */
const retry = async <X>(f: () => Promise<X>): Promise<X> => {
  for (let i = 0; ; i++) {
    try { return await f() } catch (e) { if (i === 3) throw e }
  }
}
const latencies: number[] = []
/** Devices have their tokens before the storm (signing in is not part of it). */
const tokens: string[] = []
for (let i = 0; i < D; i++) tokens.push((await retry(async () => await (await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user: userOf(i).slice(2) }) })).json() as { token: string })).token)
const connect = async (i: number): Promise<Device> => {
  const token = tokens[i]
  const ws = new WebSocket(`ws://127.0.0.1:${port}/device?token=${token}`)
  const d: Device = { ws, held: new Set(), cursor: 0, docs: new Map(), acks: 0, dones: 0, done: () => Promise.resolve() }
  const waiting = new Map<number, () => void>()
  const seen = new Set<string>()
  d.done = request => new Promise(resolve => waiting.set(request, resolve))
  const hot = (name: string): boolean => Number(/r(\d+)$/.exec(name)?.[1] ?? HOT) < HOT && name.startsWith(`account/t${i % T}r`)
  ws.on('message', (data: Buffer) => {
    const dec = decoding.createDecoder(new Uint8Array(data))
    while (decoding.hasContent(dec)) {
      const f: DeviceFrame = readDeviceFrame(dec)
      if (f.type === DeviceMessage.sync && f.step === SyncStep.update) {
        d.held.add(f.record)
        if (i < E && hot(f.record)) {
          let doc = d.docs.get(f.record)
          if (doc === undefined) { doc = new Y.Doc(); d.docs.set(f.record, doc) }
          Y.applyUpdate(doc, f.payload)
        }
        // Delivery: the markers an editor wrote into the values it changed.
        const text = Buffer.from(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength).toString('latin1')
        for (const m of text.matchAll(/@T(\d{13})-(\d+)-(\d+)@/g)) {
          if (seen.has(m[0])) continue
          seen.add(m[0])
          if (Number(m[2]) !== i) latencies.push(Date.now() - Number(m[1]))
        }
      } else if (f.type === DeviceMessage.evict) d.held.delete(f.record)
      else if (f.type === DeviceMessage.done) { d.cursor = f.cursor; d.dones++; waiting.get(f.request)?.(); waiting.delete(f.request) }
      else if (f.type === DeviceMessage.ack) d.acks++
    }
  })
  ws.on('error', e => console.error(`device ${i}: ${e.message}`))
  await new Promise(resolve => ws.on('open', resolve))
  ws.send(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: `bench-device-${i}`, cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
  return d
}
const syncNow = (d: Device, request: number): Promise<void> => {
  const done = d.done(request)
  d.ws.send(encodeDeviceFrame({ type: DeviceMessage.syncNow, request, count: d.held.size, digest: holdingsDigest(d.held), receiptSeq: 0 }))
  return done
}

/** A process of its own that asks /healthz every 20 ms and prints the longest answer so far (this driver is busy). */
const POLLER = `
let max = 0
const poll = async () => {
  await (await fetch(process.argv[1])).json() // undici loads and connects first
  process.stdout.write('ready\\n')
  for (;;) {
    const t0 = performance.now()
    try { await (await fetch(process.argv[1])).json() } catch { continue }
    max = Math.max(max, performance.now() - t0)
    process.stdout.write(max.toFixed(1) + '\\n')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
poll()
`
/** The longest /healthz answer while `during` runs, timed by a poller process of its own. */
const healthz = async <X>(during: () => Promise<X>): Promise<{ result: X, maxMs: number }> => {
  const poller = spawn(process.execPath, ['-e', POLLER, `http://127.0.0.1:${port}/healthz`], { stdio: ['ignore', 'pipe', 'inherit'] })
  let maxMs = 0
  let ready: () => void = () => {}
  const started = new Promise<void>(resolve => { ready = resolve })
  poller.stdout.on('data', (b: Buffer) => {
    for (const line of b.toString().trim().split('\n')) if (line === 'ready') ready(); else maxMs = Math.max(maxMs, Number(line) || 0)
  })
  await started
  const result = await during()
  const exited = new Promise(resolve => poller.once('exit', resolve))
  poller.kill('SIGTERM')
  await exited
  return { result, maxMs }
}

console.log(`bench/server-core: ${D} devices, each of a user whose team (${T} teams) owns ${R} accounts; ${E} editors, ${RATE} edits/s for ${SECONDS} s`)
await phase()
// Storm: every device connects and syncs from empty at once.
let t0 = 0
const storm = await healthz(async () => {
  t0 = performance.now()
  const devices = await Promise.all(Array.from({ length: D }, (_, i) => connect(i)))
  await Promise.all(devices.map(d => syncNow(d, 1)))
  return devices
})
const stormSeconds = (performance.now() - t0) / 1000
const devices = storm.result
const records = devices.reduce((n, d) => n + d.held.size, 0)
console.log(`storm:    ${stormSeconds.toFixed(2)} s, ${records} records (${Math.round(records / stormSeconds)}/s), healthz max ${storm.maxMs.toFixed(0)} ms; server ${await phase()}`)

// Periodic: 10 online devices run a full cycle again (nothing changed).
const periodic = await healthz(() => Promise.all(devices.slice(0, 10).map(d => syncNow(d, 2))))
console.log(`periodic: 10 full cycles, healthz max ${periodic.maxMs.toFixed(0)} ms; server ${await phase()}`)

// Live: editors stay online, the rest go.
for (const d of devices.slice(E)) d.ws.close()
const editors = devices.slice(0, E)
await new Promise(resolve => setTimeout(resolve, 500))
await phase()
let sent = 0
let pushId = 0
const perEditor = RATE / E
const fields = ['telephone1', 'emailaddress1', 'address1_city', 'name', 'websiteurl', 'address1_line1']
/** Every editor pushes edits of its team's hot records at its share of the rate for `seconds`. */
const edit = (seconds: number): Promise<unknown> => {
  const stopAt = performance.now() + seconds * 1000
  return Promise.all(editors.map(async (d, i) => {
    const names = [...d.docs.keys()]
    let next = performance.now()
    while (performance.now() < stopAt) {
      next += 1000 / perEditor
      const wait = next - performance.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
      const name = names[Math.floor(Math.random() * names.length)]
      const doc = d.docs.get(name)!
      let update: Uint8Array | null = null
      const capture = (u: Uint8Array): void => { update = u }
      doc.on('update', capture)
      setField(doc, account, fields[i % fields.length], `@T${Date.now()}-${i}-${++pushId}@`, { by: userOf(i), at: new Date().toISOString() })
      doc.off('update', capture)
      d.ws.send(encodeDeviceFrame({ type: DeviceMessage.push, record: name, id: pushId, update: update! }))
      sent++
    }
  }))
}
const acked = (): number => editors.reduce((n, d) => n + d.acks, 0)
/** Waits (bounded) until every edit sent so far is acknowledged. */
const settle = async (): Promise<void> => {
  for (let waited = 0; waited < 5000 && acked() < sent; waited += 50) await new Promise(resolve => setTimeout(resolve, 50))
}
// A warm-up at the same rate first (the hot records' rooms load), then the measured window.
await edit(WARMUP)
await settle()
await phase()
latencies.length = 0
const sent0 = sent
const acks0 = acked()
const ticks0 = cpuTicks()
t0 = performance.now()
await edit(SECONDS)
await settle()
const liveSeconds = (performance.now() - t0) / 1000
const ackedLive = acked() - acks0
const cpu = (cpuTicks() - ticks0) / 100 / liveSeconds
latencies.sort((a, b) => a - b)
const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN
console.log(`live:     ${sent - sent0} edits sent, ${ackedLive} acknowledged in ${liveSeconds.toFixed(1)} s (${Math.round(ackedLive / liveSeconds)}/s) after ${WARMUP} s of warm-up; server CPU ${(cpu * 100).toFixed(0)}%; delivery p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms max ${latencies.at(-1)} ms (${latencies.length} deliveries); server ${await phase()}`)

// Privileges: shares with one user change while the editors are online (each change: that user's
// device checks and runs a full cycle; the server may look at others too).
await phase()
const averyToken = await retry(async () => await (await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user: 'avery' }) })).json() as { token: string })
const CHANGES = 5
const shares = await healthz(async () => {
  t0 = performance.now()
  for (let k = 0; k < CHANGES; k++) {
    const sharee = editors[1]
    const dones = sharee.dones
    // Shared, then the share removed, then the next record.
    const r = await fetch(`http://127.0.0.1:${port}/api/records/account/t0r${k >> 1}/shares`, { method: 'PUT', headers: { authorization: `Bearer ${averyToken.token}` }, body: JSON.stringify({ principal: `systemuser/${userOf(1)}`, access: k % 2 === 0 ? 'read' : null }) })
    if (r.status !== 200) throw new Error(`share: ${r.status} ${await r.text()}`)
    // The sharee's device runs a full cycle after the change.
    for (let waited = 0; waited < 30_000 && sharee.dones === dones; waited += 20) await new Promise(resolve => setTimeout(resolve, 20))
  }
})
console.log(`shares:   ${CHANGES} share changes with ${E} devices online, each followed by the sharee's full cycle: ${((performance.now() - t0) / 1000).toFixed(2)} s, healthz max ${shares.maxMs.toFixed(0)} ms; server ${await phase()}`)

// A role assignment changes (any change but shares): every online device checks what it holds and
// runs a full cycle.
await phase()
const roles = await healthz(async () => {
  t0 = performance.now()
  for (let k = 0; k < 3; k++) {
    const dones = editors.map(d => d.dones)
    const r = await fetch(`http://127.0.0.1:${port}/api/admin/users/${userOf(2)}/roles`, { method: 'PUT', headers: { authorization: `Bearer ${averyToken.token}` }, body: JSON.stringify({ roles: ['role-sales'] }) })
    if (r.status !== 200) throw new Error(`roles: ${r.status} ${await r.text()}`)
    for (let waited = 0; waited < 60_000 && editors.some((d, i) => d.dones === dones[i]); waited += 20) await new Promise(resolve => setTimeout(resolve, 20))
  }
})
console.log(`roles:    3 role changes with ${E} devices online, each followed by every device's full cycle: ${((performance.now() - t0) / 1000).toFixed(2)} s, healthz max ${roles.maxMs.toFixed(0)} ms; server ${await phase()}`)

for (const d of editors) d.ws.close()
await server.kill('SIGTERM')
if (process.env.SERVER_LOG !== undefined) writeFileSync(process.env.SERVER_LOG, server.output())
rmSync(dir, { recursive: true, force: true })
process.exit(0)
