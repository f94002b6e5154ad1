// bench/team --soak: the mixed load of team-soak.ts on the team server for M minutes, the server's
// resident memory sampled every minute (every tenth of the run when shorter), with its anonymous and
// file-backed parts, its V8 heap in use and committed, and array buffers; whether the last half grew less
// than 5%: from its first sample to its last, and (one sample is at the mercy of when the garbage collector
// last ran) from the median of its first five samples to the median of its last five. RSS is also read 12
// times a period: the same verdicts on each period's median and highest reading.

import { readFileSync } from 'node:fs'
import { rssMiB } from './processes.ts'
import type { DeviceHost } from './team-host-client.ts'
import type { TeamServer } from './team-server.ts'
import { fmt } from './table.ts'

const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

/** A process's resident memory that is anonymous (heaps: V8's, malloc's) and file-backed (code, mapped files), MiB. */
const residentKinds = (pid: number): { anonymous: number, file: number } => {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN)
    return { anonymous: kib('Anonymous') / 1024, file: (kib('Rss') - kib('Anonymous')) / 1024 }
  } catch {
    return { anonymous: NaN, file: NaN }
  }
}

export const runSoakPart = async (o: { host: DeviceHost, team: TeamServer, synced: Set<string>, liveDevices: number, minutes: number }): Promise<void> => {
  const { host, team } = o
  const { server } = team
  const online = team.reps.slice(0, o.liveDevices).map(r => r.key)
  const fresh = online.filter(k => !o.synced.has(k))
  if (fresh.length > 0) { await team.open(fresh); await host.sync(fresh); for (const k of fresh) o.synced.add(k) }
  // Fresh devices come from the team after the online ones; y-websocket clients are reps of the first teams.
  const churn = team.reps.slice(o.liveDevices, o.liveDevices + team.layout.teamSize).map(r => team.tokens.get(r.key)!)
  const yclients = team.reps.slice(0, 10).map((r, i) => ({ token: team.tokens.get(r.key)!, userId: `u-${r.login}`, record: `account/t${r.team}r${i}` }))
  const seconds = o.minutes * 60
  const sampleMs = Math.min(60_000, seconds * 100)
  console.log(`\nsoak: ${o.minutes} min; ${online.length} devices online (periodic sync every 30 s, ${online.length} edits/s, one reconnecting every 15 s), a fresh device syncing a whole scope every 20 s, ${yclients.length} y-websocket clients connecting every 10 s`)
  const samples: number[] = []
  const heaps: number[] = []
  /** resident memory outside the V8 heap (RSS less the heap committed): malloc's heap (SQLite's page cache
   * among it), code, mapped files */
  const outside: number[] = []
  /** RSS read every twelfth of a sample period (5 s in a full soak): each period's median and highest, so a
   * period's figure does not hang on where the garbage collector's sawtooth was at one instant */
  const periodMedians: number[] = []
  const periodPeaks: number[] = []
  let period: number[] = []
  const started = Date.now()
  const reader = setInterval(() => { period.push(rssMiB(server.pid).now) }, sampleMs / 12)
  const timer = setInterval(() => {
    const rss = rssMiB(server.pid).now
    const { heap, buffers, committed, young } = server.memory()
    const kinds = residentKinds(server.pid)
    samples.push(rss)
    heaps.push(heap)
    outside.push(rss - committed)
    period.push(rss)
    periodMedians.push(median(period))
    periodPeaks.push(Math.max(...period))
    console.log(`  ${((Date.now() - started) / 60_000).toFixed(1).padStart(5)} min  server RSS ${fmt.mib(rss)} (${period.length} readings: median ${fmt.mib(periodMedians.at(-1)!)}, highest ${fmt.mib(periodPeaks.at(-1)!)}; anonymous ${fmt.mib(kinds.anonymous)}, file-backed ${fmt.mib(kinds.file)})  V8 heap in use ${fmt.mib(heap)} of ${fmt.mib(committed)} committed (young generation ${fmt.mib(young)})  array buffers ${fmt.mib(buffers)}`)
    period = []
  }, sampleMs)
  let done
  try {
    done = await host.soak({ url: server.wsUrl, synchronous: team.synchronous, seconds, online, teams: team.teamsOf(online), churnTokens: churn, rate: online.length, yclients })
  } finally {
    clearInterval(timer)
    clearInterval(reader)
  }
  console.log(`soak done: ${done.edits} edits, ${done.syncs} syncs, ${done.freshDevices} fresh devices, ${done.yclientSessions} y-websocket sessions, ${done.errors} errors`)
  const verdict = (what: string, series: number[]): void => {
    const half = series.slice(Math.floor(series.length / 2))
    const ends = half.length < 2 ? NaN : (half.at(-1)! - half[0]) / half[0]
    const k = Math.min(5, Math.floor(half.length / 2))
    const medians = k < 1 ? NaN : (median(half.slice(-k)) - median(half.slice(0, k))) / median(half.slice(0, k))
    const pct = (x: number): string => `${(x * 100).toFixed(1)}% (${x < 0.05 ? 'under' : 'NOT under'} 5%)`
    console.log(`${what}: first ${fmt.mib(series[0] ?? NaN)}, peak ${fmt.mib(Math.max(...series))}, last ${fmt.mib(series.at(-1) ?? NaN)}; the last half grew ${pct(ends)} first to last sample, ${pct(medians)} median of its first ${k} to median of its last ${k}`)
  }
  verdict('server RSS', samples)
  verdict('server RSS, median of each period\'s readings', periodMedians)
  verdict('server RSS, highest of each period\'s readings', periodPeaks)
  verdict('server V8 heap in use', heaps)
  verdict('server RSS outside the V8 heap (RSS less the heap committed)', outside)
}
