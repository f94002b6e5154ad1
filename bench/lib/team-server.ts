// bench/team's fieldsync side: a server seeded with the team organization, pinned to the server core,
// the reps' tokens, and the live load measured on it (server CPU over the measured window).

import { buildCatalog } from '../../src/docs/catalog.ts'
import { seedStorage } from './seed.ts'
import { repLogin, teamModel, teamRecords, type TeamLayout } from './team-org.ts'
import { cpuSeconds, measure, startFieldsync, type FieldsyncProcess, type Measured } from './processes.ts'
import type { DeviceHost } from './team-host-client.ts'
import type { LiveResult } from './team-protocol.ts'
import { fmt } from './table.ts'

export interface Rep { readonly key: string, readonly team: number, readonly login: string }

export interface TeamServer {
  readonly server: FieldsyncProcess
  readonly layout: TeamLayout
  readonly accounts: number
  /** every rep, in team order; rep i's device is `d<i>` */
  readonly reps: readonly Rep[]
  readonly tokens: ReadonlyMap<string, string>
  /** the device stores' SQLite setting */
  readonly synchronous: 'full' | 'normal'
  /** the given device keys grouped by team */
  teamsOf (keys: readonly string[]): string[][]
  /** opens devices of these keys in the host (not synced) */
  open (keys: readonly string[]): Promise<void>
}

export const startTeamServer = async (o: { host: DeviceHost, dir: string, layout: TeamLayout, cpu: number | null, synchronous: 'full' | 'normal', profileFile?: string, tokenTtlSeconds?: number }): Promise<TeamServer> => {
  const { layout } = o
  let t0 = performance.now()
  const accounts = await seedStorage(o.dir, teamModel(buildCatalog(), layout), teamRecords(layout))
  console.log(`seeded ${layout.teams} teams of ${layout.teamSize} reps, ${layout.recordsPerTeam} accounts each (${accounts} accounts) in ${fmt.s((performance.now() - t0) / 1000)}`)
  t0 = performance.now()
  // (The devices and clients keep the tokens issued here: a run longer than the server's default token
  // lifetime, the soak, asks for tokens that outlast it, else its load would stop at their expiry.)
  const server = await startFieldsync({ dir: o.dir, cpu: o.cpu, profileFile: o.profileFile, env: o.tokenTtlSeconds === undefined ? {} : { TOKEN_TTL_SECONDS: String(o.tokenTtlSeconds) } })
  console.log(`server ready in ${fmt.s((performance.now() - t0) / 1000)}`)
  const reps = Array.from({ length: layout.teams * layout.teamSize }, (_, i) => ({ key: `d${i}`, team: Math.floor(i / layout.teamSize), login: repLogin(Math.floor(i / layout.teamSize), i % layout.teamSize) }))
  const tokens = new Map<string, string>()
  for (const r of reps) tokens.set(r.key, await server.token(r.login))
  const teamOfKey = new Map(reps.map(r => [r.key, r.team]))
  return {
    server, layout, accounts, reps, tokens, synchronous: o.synchronous,
    teamsOf: keys => {
      const by = new Map<number, string[]>()
      for (const k of keys) { const t = teamOfKey.get(k)!; by.set(t, [...(by.get(t) ?? []), k]) }
      return [...by.values()]
    },
    open: keys => o.host.open(keys.map(key => ({ key, url: server.wsUrl, token: tokens.get(key)!, synchronous: o.synchronous })))
  }
}

/** The live load on fieldsync: server CPU over the measured window (edits made), the rest over the whole run. */
export const liveOnFieldsync = (host: DeviceHost, server: FieldsyncProcess, o: { teams: readonly (readonly string[])[], writers: readonly string[], rate: number, seconds: number }): Promise<Measured<LiveResult>> => {
  const window = watchWindow(host, server.pid, () => server.takeLoopDelay())
  return measure(server, () => host.live({ ...o, warmupSeconds: 2, drainSeconds: 30 })).then(m => ({ ...m, ...window() }))
}

/** Server and device-process CPU over the live load's measured window (told by the host). */
export const watchWindow = (host: DeviceHost, serverPid: number, onStart: () => void = () => {}): () => { cpu: number, devicesCpu: number } => {
  let start = { server: 0, devices: 0, at: 0 }
  let result = { cpu: NaN, devicesCpu: NaN }
  host.onWindow = phase => {
    const now = { server: cpuSeconds(serverPid), devices: cpuSeconds(host.pid), at: performance.now() }
    if (phase === 'start') { start = now; onStart(); return }
    const seconds = (now.at - start.at) / 1000
    result = { cpu: (now.server - start.server) / seconds, devicesCpu: (now.devices - start.devices) / seconds }
  }
  return () => result
}

/** A row of live figures: writers, edits/s made, sustained, delivery p50/p99/max, undelivered, server CPU, device process CPU, loop blocked max. */
export const liveRow = (label: string, m: Pick<Measured<LiveResult>, 'result' | 'cpu' | 'devicesCpu'> & { loopMs?: number }): string[] => {
  const r = m.result
  const sustained = r.complete / Math.max(r.issueSeconds, r.allDoneSeconds)
  return [label, String(r.writers), fmt.int(r.edits / r.issueSeconds), fmt.int(sustained), fmt.ms(r.latency.p50), fmt.ms(r.latency.p99), fmt.ms(r.latency.max), String(r.missing), fmt.pct(m.cpu), fmt.pct(m.devicesCpu), m.loopMs === undefined ? '' : fmt.ms(m.loopMs)]
}

export const LIVE_HEAD = ['', 'writers', 'edits/s made', 'sustained', 'delivery p50', 'p99', 'max', 'undelivered', 'server CPU', 'devices CPU', 'loop blocked max']
