// A real HTTP proxy in front of a test server (HTTP requests and websocket upgrades), which can answer
// chosen requests itself, as a load balancer or gateway in trouble would.

import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface TestProxy {
  readonly port: number
  /** requests seen, in order (`METHOD path`) */
  readonly seen: string[]
  close (): Promise<void>
}

/** `answer` returns a status (and JSON body) to answer a request with instead of forwarding it, or null. */
export const startProxy = async (targetPort: number, answer: (req: IncomingMessage) => { status: number, body: unknown, headers?: Record<string, string> } | null): Promise<TestProxy> => {
  const seen: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`)
    const own = answer(req)
    if (own !== null) {
      req.resume()
      res.writeHead(own.status, { 'content-type': 'application/json', ...own.headers }).end(JSON.stringify(own.body))
      return
    }
    const out = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, up => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  // A websocket upgrade: replay the request to the server and splice the two sockets.
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`UPGRADE ${req.url ?? ''}`)
    const up = connect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      up.write(`${lines.join('\r\n')}\r\n\r\n`)
      if (head.length > 0) up.write(head)
      up.pipe(client)
      client.pipe(up)
    })
    sockets.add(up)
    const end = (): void => { up.destroy(); client.destroy() }
    up.on('error', end)
    client.on('error', end)
    up.on('close', () => { sockets.delete(up); client.destroy() })
    client.on('close', () => up.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) })
  }
}
