// Websockets on hono over Node: an upgrade request goes through the app as a GET (authentication, the
// route's own checks), and only a route that accepts it gets a socket. Nothing an upgrade takes outlives
// it: what a route accepted waits in that one request's context, not in a table that only an opened socket
// empties (@hono/node-ws kept every upgrade that never opened — a handshake the ws library refuses after
// the app said yes, a connection reset meanwhile — with its handler, for good: test/security/upgrade-leaks.test.ts).

import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { WSContext, type WSEvents, type WSReadyState } from 'hono/ws'
import { WebSocketServer, type WebSocket } from 'ws'
import type { UpgradeSource } from './pacing.ts'

export type SocketEvents = WSEvents<WebSocket>

/** Where an accepting route leaves its events: in the env of the app request the upgrade listener makes. */
const UPGRADE = Symbol('websocket upgrade')
interface UpgradeSlot { events?: SocketEvents }

/** Sec-WebSocket-Key: 16 bytes in base64 (RFC 6455, 4.2.1), as the ws library checks it. */
const KEY = /^[+/0-9A-Za-z]{22}==$/

/** Whether a request is a handshake the ws library takes (it refuses any other with 400 after the app ran). */
const isHandshake = (r: IncomingMessage): boolean => {
  const key = r.headers['sec-websocket-key']
  const version = r.headers['sec-websocket-version']
  return r.method === 'GET' && r.headers.upgrade?.toLowerCase() === 'websocket' && typeof key === 'string' && KEY.test(key) && (version === '13' || version === '8')
}

/** Answers an upgrade request that opens no socket, and closes its connection. */
const refuse = (socket: Duplex, status: number): void => {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

/** An exception in a socket's handler is a bug: reported, and the other sockets go on. */
const guarded = (f: () => void): void => {
  try { f() } catch (e) { console.error(e) }
}

export interface NodeWebSockets {
  /** the sockets' server (its clients: every open socket) */
  readonly wss: WebSocketServer
  /** A route's last handler: accepts the upgrade with the events `createEvents` makes for it (after the
   * handlers before it, authentication among them, let it through). A request that is no upgrade is 426. */
  upgradeWebSocket (createEvents: (c: Context) => SocketEvents | Promise<SocketEvents>): MiddlewareHandler
  /** Handles the server's upgrade requests through `app`. */
  inject (server: UpgradeSource): void
}

/** `maxPayload`: a larger frame closes its socket with 1009 (ws checks it before we see any of it). */
export const nodeWebSockets = (app: Hono, maxPayload: number): NodeWebSockets => {
  const wss = new WebSocketServer({ noServer: true, maxPayload })

  const open = (ws: WebSocket, events: SocketEvents, url: URL): void => {
    const ctx = new WSContext<WebSocket>({
      raw: ws, url, protocol: ws.protocol,
      send: (data, options) => ws.send(data, { compress: options.compress }),
      close: (code, reason) => ws.close(code, reason),
      get readyState () { return ws.readyState as WSReadyState }
    })
    guarded(() => events.onOpen?.(new Event('open'), ctx))
    ws.on('message', (data: Buffer, isBinary) => {
      // (A copy: what is kept of a frame must not hold on to a larger buffer it was read into.)
      const message = isBinary ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data.toString('utf-8')
      guarded(() => events.onMessage?.(new MessageEvent('message', { data: message }), ctx))
    })
    ws.on('close', (code, reason) => {
      const evt = Object.assign(new Event('close'), { code, reason: reason.toString(), wasClean: code !== 1006 }) as CloseEvent
      guarded(() => events.onClose?.(evt, ctx))
    })
    ws.on('error', () => guarded(() => events.onError?.(new Event('error'), ctx)))
  }

  const upgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    // A handshake that cannot complete costs no token check and no record load.
    if (!isHandshake(request)) { refuse(socket, 400); return }
    const url = new URL(request.url ?? '/', 'http://localhost')
    const headers = new Headers()
    for (const [k, v] of Object.entries(request.headers)) if (v !== undefined) headers.append(k, Array.isArray(v) ? v[0] : v)
    const slot: UpgradeSlot = {}
    const response = await app.request(url, { headers }, { incoming: request, outgoing: undefined, [UPGRADE]: slot })
    const events = slot.events
    if (events === undefined || response.status !== 200) { refuse(socket, response.status); return }
    // (Reset while the app checked it: nothing was taken, nothing opens.)
    if (socket.destroyed) return
    wss.handleUpgrade(request, socket, head, ws => open(ws, events, url))
  }

  return {
    wss,
    upgradeWebSocket: createEvents => async function upgradeWebSocket (c: Context): Promise<Response> {
      const slot = (c.env as Record<symbol, UpgradeSlot | undefined> | undefined)?.[UPGRADE]
      if (slot === undefined) return c.json({ error: 'a websocket endpoint: open it with a websocket upgrade' }, 426, { upgrade: 'websocket' })
      slot.events = await createEvents(c)
      return c.body(null, 200)
    },
    inject: server => {
      server.on('upgrade', (request, socket, head) => {
        upgrade(request, socket, head).catch(e => { console.error(e); socket.destroy() })
      })
    }
  }
}
