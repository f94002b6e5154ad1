// bench/team, peer: the live load at a scale this machine drives for both, on fieldsync (devices over
// /device, SQLite FULL) and on Hocuspocus 3 (in memory; one socket per device multiplexing its
// team's documents), servers pinned to the server core, clients in the device host.

import { spawnUntil } from '../../tools/spawn.ts'
import { pinned, ROOT, type Measured } from './processes.ts'
import type { DeviceHost } from './team-host-client.ts'
import type { LiveResult } from './team-protocol.ts'
import { LIVE_HEAD, liveOnFieldsync, liveRow, startTeamServer, watchWindow } from './team-server.ts'
import { fmt, printTable } from './table.ts'

export interface PeerPartOptions {
  readonly host: DeviceHost
  readonly dir: string
  readonly devices: number
  readonly teamSize: number
  readonly recordsPerTeam: number
  readonly rate: number
  readonly seconds: number
  readonly serverCpu: number | null
  readonly synchronous: 'full' | 'normal'
}

export const runPeerPart = async (o: PeerPartOptions): Promise<void> => {
  const teams = Math.ceil(o.devices / o.teamSize)
  const t = await startTeamServer({ host: o.host, dir: o.dir, layout: { teams, teamSize: o.teamSize, recordsPerTeam: o.recordsPerTeam }, cpu: o.serverCpu, synchronous: o.synchronous })
  const keys = t.reps.slice(0, o.devices).map(r => r.key)
  let ours: Measured<LiveResult>
  try {
    await t.open(keys)
    await o.host.sync(keys)
    ours = await liveOnFieldsync(o.host, t.server, { teams: t.teamsOf(keys), writers: keys, rate: o.rate, seconds: o.seconds })
    await o.host.close(keys, true)
  } finally {
    await t.server.proc.kill('SIGTERM')
  }

  const proc = await spawnUntil({ ...pinned(o.serverCpu, ['--import', 'tsx', 'bench/lib/hocuspocus-server.ts', String(teams), String(o.recordsPerTeam)]), cwd: ROOT, env: { ...process.env }, ready: /ready (\d+)/ })
  let theirs: LiveResult & { connectSeconds: number }
  const window = watchWindow(o.host, proc.child.pid!)
  try {
    theirs = await o.host.hocusLive({ url: `ws://127.0.0.1:${proc.match[1]}`, teams: t.teamsOf(keys), recordsPerTeam: o.recordsPerTeam, rate: o.rate, seconds: o.seconds, warmupSeconds: 2, drainSeconds: 30 })
  } finally {
    await proc.kill('SIGTERM')
  }
  console.log(`\npeer, live: ${o.devices} devices (teams of ${o.teamSize}), each with its team's ${o.recordsPerTeam} documents, ${fmt.int(o.rate)} edits/s in total; ${o.seconds} s window`)
  printTable(LIVE_HEAD, [
    liveRow('fieldsync /device (auth, projection, SQLite FULL)', ours),
    liveRow(`Hocuspocus 3.4.3, one socket a device (in memory, no auth; connect ${fmt.s(theirs.connectSeconds)})`, { result: theirs, ...window() })
  ])
}
