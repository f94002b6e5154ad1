// A note's attachment was read whole into memory for each download and handed to the socket at once: a
// client that asks and never reads keeps it in the server's memory for as long as it keeps the connection.
// alice uploads 10 MiB (her own content, within her quota), notes it on her own account, and asks for it
// forty times without reading: the server held about 400 MB, and nothing bounds how many times she asks.
// The content now goes out a slice at a time, as the client takes it.

import { createHash } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote } from '../../src/docs/record.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { until } from '../helpers/server.ts'
import { copyOf, edit, ownedBy, raw, sendSettled, startServer } from './support.ts'

const cleanups = useCleanups()
const account = buildCatalog().entities.get('account')!

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** Bytes held in buffers (attachment content among them) once what can be collected is. */
const buffersHeld = (): number => { gc(); gc(); return process.memoryUsage().arrayBuffers }

describe('attachment downloads', () => {
  it('hold no more than a slice of the content for a client that does not read', async () => {
    const s = await startServer(cleanups)
    const token = await s.token('alice')
    const size = 10 * 1024 * 1024
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 11)) & 0xff)
    const hash = createHash('sha256').update(data).digest('hex')
    for (let offset = 0; offset < size; offset += 1024 * 1024) {
      const r = await fetch(`${s.url}/api/blobs/${hash}?size=${size}&offset=${offset}`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: data.subarray(offset, offset + 1024 * 1024) })
      expect(r.status).toBe(200)
    }
    const record = ownedBy(s, 'account', 'u-alice')
    const sock = await raw(cleanups, s, record, 'alice')
    const ref = { filename: 'site-survey.bin', mimetype: 'application/octet-stream', filesize: String(size), contenthash: hash }
    await sendSettled(s, record, sock, edit(copyOf(s, record, 0x7400001), d => addNote(d, account, 'n-survey', { subject: 'Survey', text: '', attachment: ref }, { by: 'u-alice', at: new Date().toISOString() })))
    const path = `/api/records/${record}/notes/n-survey/attachment`
    // A download that reads gets the content whole.
    const whole = new Uint8Array(await (await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer())
    expect(createHash('sha256').update(whole).digest('hex')).toBe(hash)

    const before = buffersHeld()
    const port = Number(new URL(s.url).port)
    const stalled: Socket[] = []
    const answered = new Set<Socket>()
    for (let i = 0; i < 40; i++) {
      const c = connect(port, '127.0.0.1')
      c.on('error', () => {})
      cleanups.push(() => { c.destroy() })
      c.once('data', () => { answered.add(c); c.pause() }) // the answer began; nothing more is read
      c.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`)
      stalled.push(c)
    }
    await until(() => answered.size === stalled.length, 'every download answered')
    const perDownload = (buffersHeld() - before) / stalled.length
    // (Before, each held the whole 10 MiB.)
    expect(perDownload, 'bytes held per download not read').toBeLessThan(1024 * 1024)
  }, 120_000)
})
