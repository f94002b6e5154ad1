// Clients that reset their connection while the server handles their websocket upgrade (token check,
// refusal, handshake) cost nothing: the server stays up and serves the next client. Node takes its own
// error handler off a socket it hands to 'upgrade', so a reset in that window was an unhandled 'error'
// event that ended the process (seen in a 52-minute soak).

import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { provider, startTestServer, synced } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { int, withSeed } from '../helpers/seed.ts'

const cleanups = useCleanups()

const upgradeRequest = (path: string): string => [
  `GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', ''
].join('\r\n')

/** Sends an upgrade request and resets the connection (RST) after `afterMs`, or once the server answers. */
const resetDuring = (port: number, path: string, afterMs: number): Promise<void> => new Promise(resolve => {
  const socket: Socket = connect(port, '127.0.0.1')
  const reset = (): void => { if (!socket.destroyed) socket.resetAndDestroy(); resolve() }
  socket.on('error', () => resolve())
  socket.on('connect', () => {
    socket.write(upgradeRequest(path))
    if (afterMs === 0) reset(); else setTimeout(reset, afterMs)
  })
  socket.once('data', reset)
})

describe('websocket upgrades reset by the client', () => {
  it('leave the server up, whatever the moment (refused or accepted upgrades, seeded)', () => withSeed(async gen => {
    const s = await startTestServer()
    cleanups.push(() => s.dispose())
    const token = await s.token('avery')
    const port = Number(new URL(s.url).port)
    const paths = ['/sync/account/acc0001?token=not-a-token', `/sync/account/acc0001?token=${token}`, `/device?token=${token}`, '/device']
    for (let round = 0; round < Number(process.env.ROUNDS ?? 12); round++) {
      await Promise.all(paths.flatMap(p => Array.from({ length: 5 }, () => resetDuring(port, p, int(gen, 0, 4)))))
    }
    const health = await fetch(`${s.url}/healthz`)
    expect(health.status).toBe(200)
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, 'account/acc0001', doc, token)
    cleanups.push(() => p.destroy())
    await synced(p)
    expect(doc.getMap('meta').get('id')).toBe('acc0001')
  }))
})
