// Paced websocket upgrades: each reaches the listener in a later slice of the event loop, in order; one
// whose socket fails while it waits is dropped without reaching it (and without an unhandled error).

import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { pacedUpgrades } from '../../src/server/pacing.ts'

describe('pacedUpgrades', () => {
  it('hands every upgrade on later, in order, and drops one whose socket failed meanwhile', async () => {
    const server = new EventEmitter()
    const reached: string[] = []
    let all!: () => void
    const done = new Promise<void>(resolve => { all = resolve })
    pacedUpgrades(server as never).on('upgrade', (request, socket) => {
      reached.push(request.url ?? '')
      expect(socket.destroyed).toBe(false)
      if (reached.length === 2) all()
    })
    const sockets = ['/a', '/b', '/c'].map(url => {
      const socket = new PassThrough()
      server.emit('upgrade', { url } as IncomingMessage, socket, Buffer.alloc(0))
      return socket
    })
    expect(reached).toEqual([]) // not in the turn it arrived
    sockets[1].emit('error', new Error('reset by peer'))
    await done
    await new Promise(resolve => setImmediate(resolve))
    expect(reached).toEqual(['/a', '/c'])
    expect(sockets[1].destroyed).toBe(true)
  })
})
