// A websocket upgrade the app accepted (token checked, record readable) but whose socket never opened kept
// what the upgrade took, for good: @hono/node-ws kept each such request (and its handler) in a map that only
// an opened socket empties, and /sync's upgrade kept a use of its record's room. Any signed-in user could
// grow the server's memory without bound with handshakes that cannot complete — a Sec-WebSocket-Key that
// is no key (the ws library refuses it after the app said yes), or a connection reset while the token was
// checked: about 8 KB each here, 2,000 in a few seconds. A plain GET of a /sync URL (no upgrade at all) ran
// the upgrade's check too and kept the room of a name that holds no record loaded for IDLE_UNLOAD_MS.

import { connect, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { DocName } from '../../src/ids.ts'
import { provider, synced } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { ownedBy, startServer } from './support.ts'

const cleanups = useCleanups()

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** The heap in use after collecting what can be collected. */
const heapUsed = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }

const handshake = (path: string, key: string): string => [
  `GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
  `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13', '', ''
].join('\r\n')

/** Sends `request` on a new connection; resolves with the status line the server answered (or '' when it
 * answered nothing), once the server closed the connection or `reset` reset it. */
const ask = (port: number, request: string, reset?: (socket: Socket) => void): Promise<string> => new Promise(resolve => {
  const socket = connect(port, '127.0.0.1')
  let got = ''
  socket.on('data', d => { got += d.toString() })
  socket.on('error', () => resolve(''))
  socket.on('close', () => resolve(got.split('\r\n')[0]))
  socket.on('connect', () => { socket.write(request); reset?.(socket) })
})

/** `n` requests, `batch` at a time; the status lines answered, counted. */
const many = async (n: number, batch: number, one: () => Promise<string>): Promise<Map<string, number>> => {
  const seen = new Map<string, number>()
  for (let i = 0; i < n; i += batch) {
    for (const status of await Promise.all(Array.from({ length: Math.min(batch, n - i) }, one))) seen.set(status, (seen.get(status) ?? 0) + 1)
  }
  return seen
}

describe('websocket upgrades that never open a socket', () => {
  it('keep nothing: handshakes the ws library refuses, and connections reset while the upgrade is checked', async () => {
    const s = await startServer(cleanups)
    const port = Number(new URL(s.url).port)
    const token = await s.token('alice')
    const badKey = (path: string) => () => ask(port, handshake(path, 'not-a-key'))
    const resetAtOnce = (path: string) => () => ask(port, handshake(path, 'dGhlIHNhbXBsZSBub25jZQ=='), sock => sock.resetAndDestroy())
    const mine = ownedBy(s, 'account', 'u-alice')
    const paths = [`/device?token=${token}`, `/sync/${mine}?token=${token}`]
    // (Warm: the server's caches — the token verified, the record loaded — are in place before measuring.)
    for (const p of paths) { await many(100, 50, badKey(p)); await many(100, 50, resetAtOnce(p)) }
    const before = heapUsed()
    const N = 1000
    for (const p of paths) {
      const refused = await many(N, 50, badKey(p))
      // A handshake that is no handshake is refused before anything opens.
      expect([...refused.keys()], p).toEqual(['HTTP/1.1 400 Bad Request'])
      await many(N, 50, resetAtOnce(p))
    }
    const perRequest = (heapUsed() - before) / (4 * N)
    // Kept, each took about 8 KB; what is left now is noise (a few hundred bytes at most).
    expect(perRequest, 'bytes of heap kept per upgrade that never opened').toBeLessThan(1000)
    // The server still serves.
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, mine, doc, token)
    cleanups.push(() => p.destroy())
    await synced(p)
    expect(doc.getMap('meta').get('id')).toBe(mine.split('/')[1])
  }, 120_000)

  it('keep no room of a name that holds no record: a refused handshake, or a plain GET of a /sync URL', async () => {
    const s = await startServer(cleanups)
    const port = Number(new URL(s.url).port)
    const token = await s.token('alice') // alice may create accounts: /sync lets her open a new name
    const names = [...Array(20).keys()].map(i => `account/never-opened-${i}` as DocName)
    for (const name of names) {
      expect(await ask(port, handshake(`/sync/${name}?token=${token}`, 'not-a-key'))).toBe('HTTP/1.1 400 Bad Request')
      expect(s.server.rooms.has(name), `${name} after a refused handshake`).toBe(false)
    }
    for (const name of names) {
      const r = await fetch(`${s.url}/sync/${name}?token=${token}`)
      expect(r.status, 'a plain GET of a /sync URL').toBe(426)
      expect(s.server.rooms.has(name), `${name} after a plain GET`).toBe(false)
    }
  })
})
