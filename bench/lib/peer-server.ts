// @y/websocket-server (in memory, no auth) holding the benchmark dataset: a child process for the
// initial-sync benchmark. Prints "ready <port>".

import http from 'node:http'
import * as Y from 'yjs'
import { WebSocketServer } from 'ws'
import { getYDoc, setupWSConnection } from '@y/websocket-server/utils'
import { benchRecord } from './dataset.ts'

const n = Number(process.argv[2] ?? 10_000)
for (let i = 0; i < n; i++) {
  const r = benchRecord(i)
  Y.applyUpdate(getYDoc(r.name) as Y.Doc, Y.encodeStateAsUpdate(r.doc))
}
const wss = new WebSocketServer({ noServer: true })
const server = http.createServer((_q, res) => { res.writeHead(200); res.end('ok') })
wss.on('connection', setupWSConnection)
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, ws => wss.emit('connection', ws, req)))
server.listen(0, '127.0.0.1', () => {
  const a = server.address()
  console.log(`ready ${typeof a === 'object' && a !== null ? a.port : 0}`)
})
