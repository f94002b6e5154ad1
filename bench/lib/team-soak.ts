// The soak's mixed load, run in the device host: online devices syncing periodically and editing their
// share of their team's records; one of them now and then dropping off and reconnecting; fresh devices
// that sync a whole scope from empty and leave; plain y-websocket clients that connect, edit a field
// and leave. Runs for the given time and counts what it did.

import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import type { FieldsyncDevice } from '../../src/client/device.ts'
import { setField } from '../../src/docs/record.ts'
import { account } from './dataset.ts'
import type { HostEvent, SoakRequest, SoakResult } from './team-protocol.ts'

export interface SoakHost {
  openDevice (key: string, url: string, token: string, synchronous: 'full' | 'normal'): Promise<void>
  device (key: string): FieldsyncDevice
  closeDevices (keys: readonly string[], remove: boolean): Promise<void>
  send (e: HostEvent): void
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

export const runSoak = async (r: SoakRequest, h: SoakHost): Promise<SoakResult> => {
  const end = Date.now() + r.seconds * 1000
  const counts = { edits: 0, syncs: 0, freshDevices: 0, yclientSessions: 0, errors: 0 }
  const fail = (): void => { counts.errors++ }
  const teamOf = new Map<string, readonly string[]>()
  for (const t of r.teams) for (const k of t) teamOf.set(k, t)
  const plans = await Promise.all(r.online.map(async key => {
    const team = teamOf.get(key) ?? [key]
    const held = (await h.device(key).list('account')).map(x => x.record).sort()
    return { key, mine: held.filter((_, i) => i % team.length === team.indexOf(key)), next: 0 }
  }))
  for (const key of r.online) h.device(key).startPeriodic(30_000)

  const editing = (async () => {
    let i = 0
    while (Date.now() < end) {
      const p = plans[i++ % plans.length]
      if (p.mine.length > 0) {
        const dev = h.device(p.key)
        dev.update(p.mine[p.next++ % p.mine.length], { telephone1: `+47 soak ${i}` }).then(() => { counts.edits++ }, fail)
      }
      await sleep(1000 / Math.max(1, r.rate))
    }
  })()

  // One online device at a time drops its connection and comes back with a sync.
  const reconnecting = (async () => {
    let i = 0
    while (Date.now() < end && plans.length > 0) {
      await sleep(15_000)
      const dev = h.device(plans[i++ % plans.length].key)
      dev.disconnect()
      await sleep(3000)
      await dev.sync().then(() => { counts.syncs++ }, fail)
    }
  })()

  // Fresh devices: a whole scope from empty, then gone (their stores deleted).
  const churning = (async () => {
    let i = 0
    while (Date.now() < end && r.churnTokens.length > 0) {
      const key = `fresh${i}`
      try {
        await h.openDevice(key, r.url, r.churnTokens[i % r.churnTokens.length], r.synchronous)
        await h.device(key).sync()
        counts.freshDevices++
      } catch { fail() }
      await h.closeDevices([key], true)
      i++
      await sleep(20_000)
    }
  })()

  // Plain y-websocket clients: connect, write a field, stay a while, leave.
  const yclients = (async () => {
    let round = 0
    while (Date.now() < end && r.yclients.length > 0) {
      round++
      await Promise.all(r.yclients.map(async c => {
        const doc = new Y.Doc()
        const p = new WebsocketProvider(`${r.url}/sync`, c.record, doc, { params: { token: c.token }, WebSocketPolyfill: WebSocket as never, disableBc: true })
        try {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('no sync')), 30_000)
            p.once('sync', () => { clearTimeout(t); resolve() })
          })
          setField(doc, account, 'websiteurl', `https://soak${round}.example`, { by: c.userId, at: new Date().toISOString() })
          counts.yclientSessions++
          await sleep(5000)
        } catch { fail() } finally { p.destroy(); doc.destroy() }
      }))
      await sleep(5000)
    }
  })()

  await Promise.all([editing, reconnecting, churning, yclients])
  for (const key of r.online) h.device(key).stopPeriodic()
  await Promise.all(r.online.map(k => h.device(k).sync().then(() => { counts.syncs++ }, fail)))
  return counts
}
