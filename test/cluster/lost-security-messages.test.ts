// A security change whose Redis message never reached an instance (Redis may drop a publish on a
// connection that stays up: README, "More than one instance") still takes read access away there, within
// the sweep that already catches up records whose messages were lost. Before, an instance that missed the
// message kept the old privileges until one of its own record transactions happened to read the newest
// version: a socket of a user whose roles were taken away on another instance went on receiving the
// record indefinitely on an instance that only served reads. Two instances as child processes on one
// schema and the machine's Redis; the change is saved to the shared store directly (published nowhere),
// as cluster.test.ts does for a commit.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { loadCatalog } from '../../src/docs/catalog.ts'
import * as admin from '../../src/authz/admin.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { loginTo, twoInstances } from '../helpers/cluster.ts'

const catalog = loadCatalog()

describe('a security change whose Redis message was lost', () => {
  it('closes, within seconds, the socket of a user who lost read access, on an instance that heard nothing', async () => {
    const { instances, stores, record, providers, stop } = await twoInstances(catalog, 'fs-lost-security')
    try {
      const nina = provider(`ws://127.0.0.1:${instances[1].port}/sync`, record, new Y.Doc(), await loginTo(instances[1].port, 'nina'))
      providers.push(nina)
      await synced(nina)
      const closes: number[] = []
      nina.on('connection-close', e => { if (e !== null) closes.push(e.code) })
      // nina's roles taken away, saved where every instance reads the model, published nowhere
      const model = stores.security.latest()!
      stores.security.save(admin.setRoles(model, 'user', 'u-nina', { roles: [] }))
      await until(() => closes.includes(CloseCode.readRevoked), 'nina closed with 4403 on instance 1', [], 10_000)
      expect(closes[0]).toBe(CloseCode.readRevoked)
    } finally {
      await stop()
    }
  }, 60_000)
})

describe('an ended sign-in whose Redis message was lost', () => {
  it('closes, within seconds, the sockets of that sign-in on an instance that heard nothing', async () => {
    const { instances, stores, stop } = await twoInstances(catalog, 'fs-lost-sign-ins')
    try {
      const carol = await loginTo(instances[1].port, 'carol')
      const socket = new WebSocket(`ws://127.0.0.1:${instances[1].port}/device?token=${carol}`)
      socket.on('error', () => {})
      const closed = new Promise<number>(resolve => socket.on('close', code => resolve(code)))
      await new Promise(resolve => socket.on('open', resolve))
      // carol's tokens revoked (as instance 0 does: the store changed and noted), published nowhere
      stores.security.credentials.revokeTokens('u-carol')
      stores.security.credentials.noteSignInsEnded!('u-carol')
      expect(await Promise.race([closed, new Promise(resolve => setTimeout(() => resolve('still open after 10 s'), 10_000).unref())])).toBe(CloseCode.tokenExpired)
    } finally {
      await stop()
    }
  }, 60_000)
})
