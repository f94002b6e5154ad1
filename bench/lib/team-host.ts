// The device side of bench/team, a child process (pinned to its own core by the parent): real devices
// (the SDK in src/client with its Node SQLite store) and plain y-websocket clients, driven by requests
// over the IPC channel (team-host-client.ts). One request at a time; each answers with its figures.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import type * as DeviceModule from '../../src/client/device.ts'
import type { SocketLike } from '../../src/client/device.ts'
import type * as SqliteStoreModule from '../../src/client/sqlite-store.ts'
import type { IndexedRecord } from '../../src/client/store.ts'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { DeliveryTracker, largestMarker, marker } from './delivery.ts'
import { runLive, type Writer } from './live-load.ts'
import type { HostEvent, HostReply, HostRequest, LiveResult, SyncResult } from './team-protocol.ts'
import { runSoak } from './team-soak.ts'
import { hocusLive } from './hocuspocus-live.ts'
import { fetchOneSocketPerRecord } from './peer-fetch.ts'

// The device SDK as an app gets it: built JavaScript (`npm run build`, done by bench/team), or with
// BENCH_FROM_SOURCE=1 the TypeScript sources through tsx.
const sdk = process.env.BENCH_FROM_SOURCE === '1' ? { dir: '../../src/client/', ext: '.ts' } : { dir: '../../dist/client/', ext: '.js' }
const { FieldsyncDevice } = await import(`${sdk.dir}device${sdk.ext}`) as typeof DeviceModule
type FieldsyncDevice = DeviceModule.FieldsyncDevice
const { SqliteLocalStore } = await import(`${sdk.dir}sqlite-store${sdk.ext}`) as typeof SqliteStoreModule

process.setMaxListeners(0)
const ws = WebSocket as unknown as new (url: string) => SocketLike
const root = mkdtempSync(join(tmpdir(), 'fieldsync-team-devices-'))
// The team's simulated devices (synchronous=normal) keep their stores in memory (tmpfs) unless
// DEVICE_STORES=disk: real devices write to their own disks, and 25-100 of them writing to the server's
// disk made the server's fsyncs wait for theirs. The initial-sync device (FULL, as on a phone) stays on disk.
const memoryRoot = process.env.DEVICE_STORES !== 'disk' && existsSync('/dev/shm') ? mkdtempSync(join('/dev/shm', 'fieldsync-team-devices-')) : root

/** The real SQLite store, telling the bench what arrives from the server (live edits' markers). */
class ObservedStore extends SqliteLocalStore {
  constructor (file: string, synchronous: 'full' | 'normal', private readonly onPut: (record: string, update: Uint8Array) => void) { super(file, { synchronous }) }
  override put (record: string, update: Uint8Array, entry?: IndexedRecord | null): Promise<void> {
    this.onPut(record, update)
    return super.put(record, update, entry)
  }
}

interface Held { readonly device: FieldsyncDevice, readonly dir: string }
const devices = new Map<string, Held>()
let tracker = new DeliveryTracker()

const send = (m: HostReply | HostEvent): void => { process.send?.(m) }

const openDevice = async (key: string, url: string, token: string, synchronous: 'full' | 'normal'): Promise<void> => {
  const dir = join(synchronous === 'normal' ? memoryRoot : root, key)
  mkdirSync(dir, { recursive: true })
  const store = new ObservedStore(join(dir, 'device.db'), synchronous, (record, update) => tracker.arrived(key, record, largestMarker(update)))
  devices.set(key, { device: await FieldsyncDevice.open({ url, token, store, WebSocket: process.env.LIVE_STAGES === '1' ? tracedSocket(key) : ws }), dir })
}

/** LIVE_STAGES=1: the device's socket tells the tracker's stage trace what it sends and gets. */
const tracedSocket = (key: string): new (url: string) => SocketLike => class extends WebSocket {
  constructor (url: string) {
    super(url)
    this.on('message', (data: Buffer | ArrayBuffer) => { tracker.stages?.received(key, data instanceof ArrayBuffer ? new Uint8Array(data) : data) })
  }

  override send (data: Uint8Array): void {
    tracker.stages?.sent(data)
    super.send(data)
  }
} as unknown as new (url: string) => SocketLike

const device = (key: string): FieldsyncDevice => {
  const d = devices.get(key)
  if (d === undefined) throw new Error(`no device ${key}`)
  return d.device
}

const syncAll = async (keys: readonly string[]): Promise<SyncResult[]> => {
  const t0 = performance.now()
  return Promise.all(keys.map(async key => {
    try {
      await device(key).sync()
      return { key, ms: performance.now() - t0, records: (await device(key).store.records()).length }
    } catch (e) {
      return { key, ms: performance.now() - t0, records: 0, error: (e as Error).message }
    }
  }))
}

/**
 * Live editing: every writer edits its share of its team's records (record i of a team of S goes to
 * member i mod S, so one writer per record: no same-field conflicts) at `rate` edits/s in total,
 * spread evenly; each edit must reach every other online member of the team.
 */
const live = async (r: Extract<HostRequest, { op: 'live' }>): Promise<LiveResult> => {
  tracker = new DeliveryTracker()
  const teamOf = new Map<string, readonly string[]>()
  for (const t of r.teams) for (const k of t) teamOf.set(k, t)
  let errors = 0
  const writers = await Promise.all(r.writers.map(async (key): Promise<Writer> => {
    const team = teamOf.get(key) ?? [key]
    const held = (await device(key).list('account')).map(x => x.record).sort()
    return {
      records: held.filter((_, i) => i % team.length === team.indexOf(key)),
      receivers: team.filter(k => k !== key),
      edit: (record, seq) => { device(key).update(record, { telephone1: `+47 ${marker(seq)}` }).catch(() => { errors++ }) }
    }
  }))
  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  const result = await runLive(writers, tracker, r, send)
  loop.disable()
  const stages = tracker.stages?.stats()
  if (stages !== undefined) {
    const row = (l: string, x: { p50: number, p99: number, max: number, count: number }): string => `  ${l.padEnd(36)} p50 ${x.p50.toFixed(1)} ms  p99 ${x.p99.toFixed(1)} ms  max ${x.max.toFixed(1)} ms  (${x.count})`
    console.log(`live stages (${r.writers.length} writers):\n${row('edit -> writer socket sends', stages.writer)}\n${row('sent -> receiver socket gets (server)', stages.server)}\n${row('got -> receiver store takes (device)', stages.device)}`)
    // (The device process's own stalls: a delivery it could not read meanwhile counts in the server's stage.)
    console.log(`  device process event-loop delay      p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms  max ${(loop.max / 1e6).toFixed(1)} ms`)
  }
  return { ...result, errors }
}

const closeDevices = async (keys: readonly string[], remove: boolean): Promise<void> => {
  for (const key of keys) {
    const d = devices.get(key)
    if (d === undefined) continue
    devices.delete(key)
    await d.device.close()
    if (remove) rmSync(d.dir, { recursive: true, force: true })
  }
}

const handle = async (r: HostRequest): Promise<unknown> => {
  switch (r.op) {
    case 'open': for (const d of r.devices) await openDevice(d.key, d.url, d.token, d.synchronous); return null
    case 'sync': return syncAll(r.keys)
    case 'live': return live(r)
    case 'yfetch': return fetchOneSocketPerRecord(r.url, r.names, r.concurrency)
    case 'close': await closeDevices(r.keys, r.remove); return null
    case 'soak': return runSoak(r, { openDevice, device, closeDevices, send })
    case 'hocus-live': return hocusLive(r, send)
    case 'exit': await closeDevices([...devices.keys()], true); for (const r of new Set([root, memoryRoot])) rmSync(r, { recursive: true, force: true }); setImmediate(() => process.exit(0)); return null
  }
}

process.on('message', (m: HostRequest & { id: number }) => {
  handle(m).then(result => send({ id: m.id, ok: true, result }), (e: Error) => send({ id: m.id, ok: false, error: e.stack ?? e.message }))
})
send({ event: 'ready' })
