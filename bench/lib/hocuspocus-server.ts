// The live-editing peer: @hocuspocus/server 3 (in memory: no persistence extension, no auth) holding
// T teams' accounts (`account/t<t>r<i>`, the same records as fieldsync's), as a child process.
// Usage: hocuspocus-server.ts <teams> <recordsPerTeam>; prints "ready <port>".

import * as Y from 'yjs'
import { Server } from '@hocuspocus/server'
import { benchRecord } from './dataset.ts'

const [teams, perTeam] = process.argv.slice(2).map(Number)
const server = new Server({
  port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: true,
  async onLoadDocument ({ documentName, document }) {
    const m = /^account\/t(\d+)r(\d+)$/.exec(documentName)
    if (m === null || Number(m[1]) >= teams || Number(m[2]) >= perTeam) return document
    const r = benchRecord(Number(m[2]), { ownerid: `team/t-bench${m[1]}`, owningbusinessunit: 'bu-north', by: `u-t${m[1]}m0` }, `t${m[1]}r`)
    Y.applyUpdate(document, Y.encodeStateAsUpdate(r.doc))
    r.doc.destroy()
    return document
  }
})
await server.listen()
console.log(`ready ${server.address.port}`)
