// Wires the server: hono routes, the /sync websocket, rooms over storage. The one place subsystems meet.

import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { createNodeWebSocket } from '@hono/node-ws'
import { serve, type ServerType } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import type { Catalog } from '../docs/catalog-types.ts'
import { docName, isValidId, type RecordId } from '../ids.ts'
import type { Org } from '../authz/org.ts'
import type { RecordStorage } from './storage/port.ts'
import type { ServerConfig } from './config.ts'
import { issueToken, requireToken } from './auth.ts'
import { Rooms } from './rooms.ts'
import { CloseCode } from './protocol.ts'
import type { Peer, Room } from './room.ts'
import { indexPage } from './index-page.ts'

/** What the server needs about people; the SQLite directory provides it. */
export interface Directory {
  load (): Org
  userByLogin (login: string): Org['users'][number] | undefined
  userById (id: string): Org['users'][number] | undefined
}

export interface ServerDeps {
  readonly config: ServerConfig
  readonly catalog: Catalog
  readonly storage: RecordStorage
  readonly directory: Directory
  readonly secret: string
}

export interface FieldsyncServer {
  readonly app: Hono
  readonly rooms: Rooms
  /** listens on config.port (0 = a free port) and resolves with the bound port */
  listen (): Promise<number>
  /** stops accepting, closes every socket with 1001, commits what is queued */
  close (): Promise<void>
}

let nextPeerId = 1

export const createServer = (deps: ServerDeps): FieldsyncServer => {
  const { config, catalog, storage, directory, secret } = deps
  const app = new Hono()
  const rooms = new Rooms(storage, { idleUnloadMs: config.idleUnloadMs, compactAfter: config.compactAfter })
  const { injectWebSocket, upgradeWebSocket, wss } = createNodeWebSocket({ app })
  // ws closes a socket whose frame is larger than this with 1009, before we see any of it.
  wss.options.maxPayload = config.maxFrameBytes
  const auth = requireToken(secret, id => directory.userById(id) !== undefined)

  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status)
    console.error(err)
    return c.json({ error: 'internal error' }, 500)
  })

  app.get('/healthz', c => c.json({ ok: true, loadedRecords: rooms.loaded }))
  app.get('/', async c => c.html(indexPage(config, directory.load(), await storage.list())))

  if (config.demo) {
    app.post('/auth/dev-login', async c => {
      const body = await c.req.json().catch(() => null) as { user?: unknown } | null
      if (body === null || typeof body.user !== 'string') throw new HTTPException(400, { message: 'body must be {"user": "<login>"}' })
      const user = directory.userByLogin(body.user)
      if (user === undefined) throw new HTTPException(404, { message: `no demo user ${JSON.stringify(body.user)}` })
      return c.json({ token: await issueToken(secret, user, config.tokenTtlSeconds), user })
    })
  }

  app.get('/sync/:entity/:id', auth, upgradeWebSocket(async c => {
    const entity = c.req.param('entity') ?? ''
    const id = c.req.param('id') ?? ''
    if (!catalog.entities.has(entity)) throw new HTTPException(404, { message: `unknown entity ${JSON.stringify(entity)}` })
    if (!isValidId(id)) throw new HTTPException(400, { message: 'invalid record id' })
    const name = docName(entity, id as RecordId)
    const principal = c.get('principal')
    try {
      await rooms.get(name).ready
    } catch (e) {
      console.error(`record ${name} failed to load: ${(e as Error).message}`)
      throw new HTTPException(503, { message: 'record unavailable' })
    }
    let room: Room | null = null
    let peer: Peer | null = null
    const early: Uint8Array[] = []
    return {
      onOpen (_evt, ws) {
        peer = {
          id: nextPeerId++,
          principal: principal.userId,
          send: m => { if (ws.readyState === 1) ws.send(m as Uint8Array<ArrayBuffer>) },
          close: (code, reason) => { if (ws.readyState <= 1) ws.close(code, reason) }
        }
        const r = rooms.get(name)
        // The room may have been unloaded and reloaded since the upgrade check: join once it is ready.
        r.ready.then(() => {
          if (ws.readyState !== 1 || peer === null) return
          room = r
          r.join(peer)
          for (const m of early.splice(0)) deliver(r, peer, m)
        }, () => peer?.close(CloseCode.internalError, 'record unavailable'))
      },
      onMessage (evt) {
        if (peer === null) return
        if (!(evt.data instanceof ArrayBuffer)) { peer.close(CloseCode.malformed, 'text frames are not part of the protocol'); return }
        const m = new Uint8Array(evt.data)
        if (room === null) early.push(m)
        else deliver(room, peer, m)
      },
      onClose () {
        if (room !== null && peer !== null) room.leave(peer)
        rooms.released(name)
      }
    }
  }))

  let server: ServerType | null = null
  return {
    app,
    rooms,
    listen: () => new Promise(resolve => {
      server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, info => resolve(info.port))
      injectWebSocket(server)
    }),
    close: async () => {
      for (const client of wss.clients) client.close(CloseCode.goingAway, 'server shutting down')
      await new Promise<void>(resolve => { if (server === null) resolve(); else server.close(() => resolve()) })
      await rooms.close()
      for (const client of wss.clients) client.terminate()
    }
  }
}

/** Hands a frame to its room; bad input closes only this peer. */
const deliver = (room: Room, peer: Peer, message: Uint8Array): void => {
  try {
    room.receive(peer, message)
  } catch (e) {
    peer.close(CloseCode.malformed, `malformed message: ${(e as Error).message}`.slice(0, 120))
  }
}

export type { AddressInfo }
