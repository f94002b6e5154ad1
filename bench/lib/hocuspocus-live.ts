// The live load against Hocuspocus, in the device host: each device is one HocuspocusProviderWebsocket
// carrying a HocuspocusProvider per document of its team (Hocuspocus 3 multiplexes documents over one
// socket); writers set a field of their share of the team's documents, receivers see it arrive.

import * as Y from 'yjs'
import WebSocket from 'ws'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { setField } from '../../src/docs/record.ts'
import { account } from './dataset.ts'
import { DeliveryTracker, largestMarker, marker } from './delivery.ts'
import { runLive, type Writer } from './live-load.ts'
import type { HostEvent, LiveResult } from './team-protocol.ts'

export interface HocusLiveRequest {
  readonly url: string
  /** device keys per team; team t's documents are account/t<t>r<i>, i < recordsPerTeam */
  readonly teams: readonly (readonly string[])[]
  readonly recordsPerTeam: number
  readonly rate: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly drainSeconds: number
}

export const hocusLive = async (r: HocusLiveRequest, send: (e: HostEvent) => void): Promise<LiveResult & { connectSeconds: number }> => {
  const tracker = new DeliveryTracker()
  const sockets: HocuspocusProviderWebsocket[] = []
  const providers: HocuspocusProvider[] = []
  const writers: Writer[] = []
  const t0 = performance.now()
  const syncedAll: Promise<void>[] = []
  r.teams.forEach((team, t) => {
    const names = Array.from({ length: r.recordsPerTeam }, (_, i) => `account/t${t}r${i}`)
    for (const [m, key] of team.entries()) {
      const socket = new HocuspocusProviderWebsocket({ url: r.url, WebSocketPolyfill: WebSocket })
      sockets.push(socket)
      const docs = new Map<string, Y.Doc>()
      for (const name of names) {
        const doc = new Y.Doc()
        docs.set(name, doc)
        const p = new HocuspocusProvider({ websocketProvider: socket, name, document: doc })
        p.attach()
        providers.push(p)
        syncedAll.push(new Promise(resolve => { if (p.synced) resolve(); else p.on('synced', () => resolve()) }))
        doc.on('update', (u: Uint8Array, origin: unknown) => { if (origin === p) tracker.arrived(key, name, largestMarker(u)) })
      }
      writers.push({
        records: names.filter((_, i) => i % team.length === m),
        receivers: team.filter(k => k !== key),
        edit: (record, seq) => setField(docs.get(record)!, account, 'telephone1', `+47 ${marker(seq)}`, { by: `u-t${t}m${m}`, at: new Date().toISOString() })
      })
    }
  })
  await Promise.all(syncedAll)
  const connectSeconds = (performance.now() - t0) / 1000
  try {
    return { ...await runLive(writers, tracker, r, send), errors: 0, connectSeconds }
  } finally {
    for (const p of providers) p.destroy()
    for (const s of sockets) s.destroy()
  }
}
