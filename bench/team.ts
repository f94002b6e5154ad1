// bench/team: one server core serving a team (issue 12). The server runs pinned to core 0, the devices
// (the real device SDK with its Node SQLite store, and plain y-websocket clients) in a child process on
// core 1. Parts, each beside its single-device figure:
//   storm    K devices start their initial sync together: time until all are done, the longest event-loop
//            block of the server and the slowest GET /healthz (polled every 20 ms), server CPU
//   live     L devices online, their writers editing shared records (N edits/s in total): sustained edits/s,
//            delivery latency from the edit to every other holder, server CPU
//   initial  a 10,000-record initial sync into an empty device against @y/websocket-server, one socket per record
//   peer     the live load against Hocuspocus 3 (several documents over one socket per device)
//   soak     (--soak) mixed devices and y-websocket clients for an hour: server RSS per minute
// Usage: npm run bench:team -- [--quick] [--parts storm,live,initial,peer] [--soak [--soak-minutes 60]] (--help for sizes)
// The server and the device SDK run from built JavaScript, as in production and in an app (`npm run build`
// runs first; NO_BUILD=1: dist/ as it is, for experiments and while another run uses it); BENCH_FROM_SOURCE=1
// runs both from the TypeScript sources through tsx.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { canPin, measure, rssMiB, type FieldsyncProcess } from './lib/processes.ts'
import { DeviceHost } from './lib/team-host-client.ts'
import { LIVE_HEAD, liveOnFieldsync, liveRow, startTeamServer } from './lib/team-server.ts'
import { runInitialPart } from './lib/team-initial.ts'
import { runPeerPart } from './lib/team-peer.ts'
import { runSoakPart } from './lib/team-soak-part.ts'
import { fmt, printTable } from './lib/table.ts'

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    parts: { type: 'string', default: 'storm,live,initial,peer' },
    devices: { type: 'string' }, records: { type: 'string' }, team: { type: 'string' },
    'live-devices': { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' },
    initial: { type: 'string' }, 'peer-devices': { type: 'string' }, 'peer-records': { type: 'string' },
    soak: { type: 'boolean', default: process.env.SOAK === '1' }, 'soak-minutes': { type: 'string' },
    'device-sync': { type: 'string', default: 'normal' },
    profile: { type: 'string' }, help: { type: 'boolean', default: false }
  }
})
if (o.help === true) {
  console.log(`npm run bench:team -- [options]
  --parts storm,live,initial,peer   which parts (soak: add --soak)
  --devices K        storm devices (100; --quick 10)
  --records R        records each device holds, its team's accounts (2000; --quick 300)
  --team S           devices (reps) per team (5)
  --live-devices L   devices online in the live part (25; --quick 10)
  --rate N           edits/s over all live writers (500; --quick 100)
  --seconds T        live measured window (20; --quick 5)
  --initial N        records of the initial-sync comparison (10000; --quick 2000)
  --peer-devices D, --peer-records R   Hocuspocus live load: devices, documents per team (25, 400; --quick 10, 100)
  --soak [--soak-minutes M]   the soak (60 minutes)
  --device-sync normal|full   the device stores' SQLite synchronous setting (normal: the simulated devices share
                     one disk, and FULL's fsync per commit would make that disk the limit; full: as a real device)
  (env DEVICE_STORES=disk keeps the normal devices' stores on disk, beside the server's; by default they are in
                     /dev/shm: real devices do not write to the server's disk)
  --profile DIR      a CPU profile of the server per part`)
  process.exit(0)
}
const num = (v: string | undefined, full: number, quick: number): number => {
  const n = Number(v ?? (o.quick === true ? quick : full))
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got ${JSON.stringify(v)}`)
  return n
}
const parts = new Set(o.parts!.split(','))
if (o.profile !== undefined) mkdirSync(o.profile, { recursive: true })
const K = num(o.devices, 100, 10)
const R = num(o.records, 2000, 300)
const S = num(o.team, 5, 5)
const L = num(o['live-devices'], 25, 10)
const RATE = num(o.rate, 500, 100)
const SECONDS = num(o.seconds, 20, 5)
const SERVER_CPU = canPin ? 0 : null
const DEVICE_SYNC = o['device-sync'] === 'full' ? 'full' : 'normal'
const DEVICE_CPU = canPin ? 1 : null
const FROM_SOURCE = process.env.BENCH_FROM_SOURCE === '1'

console.log(`bench/team: server ${canPin ? 'pinned to core 0' : 'not pinned (no taskset or one core)'}, devices (device SDK, SQLite store; synchronous=${DEVICE_SYNC} for the team's simulated devices${DEVICE_SYNC === 'normal' && process.env.DEVICE_STORES !== 'disk' ? ', their stores in memory (tmpfs; DEVICE_STORES=disk: on the server\'s disk)' : ''}, FULL and on disk for the initial-sync device) in a child process${canPin ? ' on core 1' : ''}; ${FROM_SOURCE ? 'from the TypeScript sources (tsx)' : 'built JavaScript'}; Node ${process.version}`)

if (!FROM_SOURCE && process.env.NO_BUILD !== '1') execFileSync('npm', ['run', 'build'], { cwd: join(import.meta.dirname, '..'), stdio: 'ignore' })
const host = await DeviceHost.start(DEVICE_CPU)
const dirs: string[] = []
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'fieldsync-bench-team-')); dirs.push(d); return d }

/** With --profile: a CPU profile of the server while `f` runs, written to <dir>/<name>.cpuprofile. */
const profiled = async <T>(server: FieldsyncProcess, name: string, f: () => Promise<T>): Promise<T> => {
  if (o.profile === undefined) return f()
  const written = join(o.profile, 'team.cpuprofile')
  rmSync(written, { force: true })
  server.proc.child.kill('SIGUSR2')
  try { return await f() } finally {
    server.proc.child.kill('SIGUSR2')
    for (let i = 0; i < 300 && !existsSync(written); i++) await new Promise(resolve => setTimeout(resolve, 100))
    await new Promise(resolve => setTimeout(resolve, 500)) // (written in one call; let it finish)
    renameSync(written, join(o.profile, `${name}.cpuprofile`))
    console.log(`  (server CPU profile: ${join(o.profile, `${name}.cpuprofile`)})`)
  }
}

try {
  if (parts.has('storm') || parts.has('live') || o.soak === true) {
    const teams = Math.ceil(Math.max(parts.has('storm') ? K : 0, parts.has('live') ? L : 0, o.soak === true ? L + S : 0) / S)
    const soakMinutes = num(o['soak-minutes'], 60, 60)
    const t = await startTeamServer({
      host, dir: tempDir(), layout: { teams, teamSize: S, recordsPerTeam: R }, cpu: SERVER_CPU, synchronous: DEVICE_SYNC,
      profileFile: o.profile === undefined ? undefined : join(o.profile, 'team.cpuprofile'),
      tokenTtlSeconds: o.soak === true ? Math.ceil(soakMinutes * 60 + 1800) : undefined
    })
    const { server } = t
    const synced = new Set<string>()

    if (parts.has('storm')) {
      // Single device: one more device of rep d0 (a device id of its own) syncs its scope alone.
      await host.open([{ key: 'single', url: server.wsUrl, token: t.tokens.get('d0')!, synchronous: DEVICE_SYNC }])
      const one = await measure(server, () => host.sync(['single']), host.pid)
      const onePeak = rssMiB(server.pid).peak
      await host.close(['single'], true)
      const keys = t.reps.slice(0, K).map(r => r.key)
      await t.open(keys)
      const storm = await profiled(server, 'storm', () => measure(server, () => host.sync(keys), host.pid))
      for (const k of keys) synced.add(k)
      const times = storm.result.map(r => r.ms).sort((a, b) => a - b)
      const failed = storm.result.filter(r => r.error !== undefined)
      const records = storm.result.reduce((n, r) => n + r.records, 0)
      console.log(`\nstorm: ${K} devices start their initial sync together, each holding ${R} accounts of its team (${teams} teams of ${S}; ${t.accounts} accounts on the server)`)
      printTable(['', 'devices', 'all done', 'device p50', 'records/s', 'loop blocked max', '/healthz max', 'server CPU', 'devices CPU', 'server peak RSS'], [
        ['one device alone', '1', fmt.s(one.seconds), fmt.s(one.result[0].ms / 1000), fmt.int(one.result[0].records / one.seconds), fmt.ms(one.loopMs), fmt.ms(one.healthMs), fmt.pct(one.cpu), fmt.pct(one.devicesCpu), fmt.mib(onePeak)],
        ['storm', String(K), fmt.s(storm.seconds), fmt.s(times[Math.floor(times.length / 2)] / 1000), fmt.int(records / storm.seconds), fmt.ms(storm.loopMs), fmt.ms(storm.healthMs), fmt.pct(storm.cpu), fmt.pct(storm.devicesCpu), fmt.mib(rssMiB(server.pid).peak)]
      ])
      if (failed.length > 0) console.log(`  ${failed.length} devices failed: ${failed[0].error}`)
      if (storm.healthFailed > 0) console.log(`  ${storm.healthFailed} /healthz requests failed and were tried again`)
      // Only the live part's devices stay online.
      const rest = keys.slice(L)
      await host.close(rest, true)
      for (const k of rest) synced.delete(k)
    }

    if (parts.has('live')) {
      const keys = t.reps.slice(0, L).map(r => r.key)
      const fresh = keys.filter(k => !synced.has(k))
      if (fresh.length > 0) { await t.open(fresh); await host.sync(fresh); for (const k of fresh) synced.add(k) }
      const teamsOfLive = t.teamsOf(keys)
      const single = await liveOnFieldsync(host, server, { teams: teamsOfLive, writers: [keys[0]], rate: RATE / L, seconds: SECONDS })
      const all = await profiled(server, 'live', () => liveOnFieldsync(host, server, { teams: teamsOfLive, writers: keys, rate: RATE, seconds: SECONDS }))
      console.log(`\nlive: ${L} devices online (teams of ${S}), each holding ${R} accounts; each writer edits its share of its team's accounts (${fmt.int(RATE / L)} edits/s a writer); an edit goes to the ${S - 1} other devices of its team; ${SECONDS} s window`)
      printTable(LIVE_HEAD, [liveRow('one device editing', single), liveRow('all editing', all)])
    }

    if (o.soak === true) await runSoakPart({ host, team: t, synced, liveDevices: L, minutes: soakMinutes })
    await host.close([...synced], true)
    await server.proc.kill('SIGTERM')
  }

  if (parts.has('initial')) await runInitialPart({ host, dir: tempDir(), records: num(o.initial, 10_000, 2000), serverCpu: SERVER_CPU })
  if (parts.has('peer')) await runPeerPart({ host, dir: tempDir(), rate: RATE, seconds: SECONDS, devices: num(o['peer-devices'], 25, 10), recordsPerTeam: num(o['peer-records'], 400, 100), teamSize: S, serverCpu: SERVER_CPU, synchronous: DEVICE_SYNC })
} finally {
  await host.exit()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}
process.exit(0)
