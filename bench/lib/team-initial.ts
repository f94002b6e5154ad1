// bench/team, initial: N accounts of alice's into an empty device (the real SDK and SQLite store in the
// device host) over /device, against the same records fetched from @y/websocket-server with one socket
// per record; servers on the server core, clients on the device core, in the same run.

import { buildCatalog } from '../../src/docs/catalog.ts'
import { demoModel } from '../../src/server/demo.ts'
import { benchRecord } from './dataset.ts'
import { measure, startFieldsync, startYwsPeer, cpuSeconds } from './processes.ts'
import { seedStorage } from './seed.ts'
import type { DeviceHost } from './team-host-client.ts'
import { fmt, printTable } from './table.ts'

/** Waits (at most a minute) until the server's GET /healthz says its offline scope index is loaded. */
const scopeIndexLoaded = async (httpUrl: string): Promise<void> => {
  const deadline = Date.now() + 60_000
  while ((await (await fetch(`${httpUrl}/healthz`)).json() as { scopeIndex?: string }).scopeIndex !== 'loaded') {
    if (Date.now() > deadline) throw new Error('the server did not load its offline scope index within a minute')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export const runInitialPart = async (o: { host: DeviceHost, dir: string, records: number, serverCpu: number | null }): Promise<void> => {
  const n = o.records
  await seedStorage(o.dir, demoModel(buildCatalog()), Array.from({ length: n }, (_, i) => benchRecord(i)))
  const server = await startFieldsync({ dir: o.dir, cpu: o.serverCpu, ...(process.env.INITIAL_SERVER_PROFILE === undefined ? {} : { profileFile: process.env.INITIAL_SERVER_PROFILE }) })
  let ours
  try {
    // The device comes to a server that has loaded its offline scope index (it does so in paced slices after
    // a start), as a device's first sync finds a server in production: not one started a moment before.
    await scopeIndexLoaded(server.httpUrl)
    // One device, as on a phone or laptop: its store syncs every commit to disk.
    await o.host.open([{ key: 'initial', url: server.wsUrl, token: await server.token('alice'), synchronous: 'full' }])
    const profiling = process.env.INITIAL_SERVER_PROFILE !== undefined
    if (profiling) process.kill(server.pid, 'SIGUSR2')
    ours = await measure(server, () => o.host.sync(['initial']), o.host.pid)
    if (profiling) { process.kill(server.pid, 'SIGUSR2'); await new Promise(resolve => setTimeout(resolve, 1000)) }
    await o.host.close(['initial'], true)
  } finally {
    await server.proc.kill('SIGTERM')
  }
  const held = ours.result[0].records
  const peer = await startYwsPeer(n, o.serverCpu)
  let fetched
  let peerCpu
  let peerDevicesCpu
  try {
    const cpu0 = cpuSeconds(peer.pid)
    const dev0 = cpuSeconds(o.host.pid)
    fetched = await o.host.yfetch(peer.url, Array.from({ length: n }, (_, i) => `account/bench${i}`), 200)
    peerCpu = (cpuSeconds(peer.pid) - cpu0) / fetched.seconds
    peerDevicesCpu = (cpuSeconds(o.host.pid) - dev0) / fetched.seconds
  } finally {
    await peer.proc.kill('SIGTERM')
  }
  const oursRate = held / ours.seconds
  const peerRate = fetched.fetched / fetched.seconds
  console.log(`\ninitial sync: ${n} accounts of ~20 fields into an empty device (${held} records in its scope)`)
  printTable(['', 'time', 'records/s', 'server CPU', 'client CPU', 'loop blocked max'], [
    ['fieldsync /device, one socket (SQLite store, FULL)', fmt.s(ours.seconds), fmt.int(oursRate), fmt.pct(ours.cpu), fmt.pct(ours.devicesCpu), fmt.ms(ours.loopMs)],
    ['@y/websocket-server, one socket a record (200 at a time)', fmt.s(fetched.seconds), fmt.int(peerRate), fmt.pct(peerCpu), fmt.pct(peerDevicesCpu), '']
  ])
  console.log(`ratio fieldsync / peer: ${(oursRate / peerRate).toFixed(2)}x records per second`)
}
