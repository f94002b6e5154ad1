// The y-websocket peer's side of an initial sync: records fetched from a y-websocket server with the
// real client (WebsocketProvider), one socket per record, `concurrency` at a time.

import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'

export const fetchOneSocketPerRecord = async (url: string, names: readonly string[], concurrency = 200): Promise<{ seconds: number, fetched: number }> => {
  const t0 = performance.now()
  let fetched = 0
  for (let start = 0; start < names.length; start += concurrency) {
    await Promise.all(names.slice(start, start + concurrency).map(name => new Promise<void>(resolve => {
      const doc = new Y.Doc()
      const p = new WebsocketProvider(url, name, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
      p.once('sync', () => { if (doc.getMap('meta').has('entity')) fetched++; p.destroy(); doc.destroy(); resolve() })
    })))
  }
  return { seconds: (performance.now() - t0) / 1000, fetched }
}
