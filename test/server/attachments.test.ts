import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, editNote, readRecord, type AttachmentRef } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const start = async (env: Record<string, string> = {}): Promise<TestServer> => {
  const s = await startTestServer(env)
  cleanups.push(() => s.dispose())
  return s
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytes = (n: number, seed = 7): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const put = async (s: TestServer, hash: string, size: number, offset: number, body: Uint8Array, login = 'alice'): Promise<Response> =>
  fetch(`${s.url}/api/blobs/${hash}?size=${size}&offset=${offset}`, { method: 'PUT', headers: { authorization: `Bearer ${await s.token(login)}` }, body: body as Uint8Array<ArrayBuffer> })
const status = async (s: TestServer, hash: string): Promise<{ status: number, body: { received: number, complete: boolean } }> => {
  const r = await fetch(`${s.url}/api/blobs/${hash}`, { headers: { authorization: `Bearer ${await s.token('alice')}` } })
  return { status: r.status, body: await r.json() as { received: number, complete: boolean } }
}
const aliceAccount = (s: TestServer): string => String(s.projection.rows('account', { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).find(r => r.ownerid === 'systemuser/u-alice')!.id)

describe('attachment content upload', () => {
  it('takes content in chunks, resumes at the offset it has, checks the hash, and refuses what it must', async () => {
    const s = await start({ MAX_ATTACHMENT_BYTES: '3000000' })
    const data = bytes(600_000)
    const hash = sha(data)
    expect((await status(s, hash)).status).toBe(404)
    expect((await put(s, hash, data.length, 0, data.subarray(0, 250_000))).status).toBe(200)
    expect((await status(s, hash)).body).toMatchObject({ received: 250_000, complete: false })
    // A cut connection resumes: a chunk at the wrong offset is answered with what the server has.
    const wrong = await put(s, hash, data.length, 0, data.subarray(0, 1000))
    expect(wrong.status).toBe(409)
    expect(await wrong.json()).toMatchObject({ received: 250_000 })
    const last = await put(s, hash, data.length, 250_000, data.subarray(250_000))
    expect(await last.json()).toMatchObject({ received: 600_000, complete: true })
    // Content that does not match its hash is discarded whole.
    const forged = bytes(1000, 9)
    const forgedName = sha(bytes(1000, 10))
    const bad = await put(s, forgedName, 1000, 0, forged)
    expect(bad.status).toBe(422)
    expect((await bad.json() as { error: string }).error).toMatch(/does not match its sha-256 hash/)
    expect((await status(s, forgedName)).status).toBe(404)
    // Limits and malformed requests: clear errors, nothing stored.
    expect((await put(s, sha(bytes(10)), 3_000_001, 0, bytes(10))).status).toBe(413)
    expect((await put(s, sha(bytes(10)), 2_000_000, 0, bytes(1024 * 1024 + 1))).status).toBe(413)
    // a chunked body (no content-length) over the limit is cut off while it streams in
    const stream = new ReadableStream<Uint8Array>({ start (ctl) { for (let i = 0; i < 5; i++) ctl.enqueue(bytes(300_000)); ctl.close() } })
    const chunked = await fetch(`${s.url}/api/blobs/${sha(bytes(10))}?size=2000000&offset=0`, { method: 'PUT', headers: { authorization: `Bearer ${await s.token('alice')}` }, body: stream, duplex: 'half' } as RequestInit)
      .then(r => r.status, (e: Error) => e.cause instanceof Error ? e.cause.message : e.message)
    // 413, or the connection closed by the server before the client finished sending
    expect(String(chunked)).toMatch(/^413$|other side closed|reset/)
    // The client may reuse the connection the server closed mid-body: one more try on a fresh one.
    expect((await status(s, sha(bytes(10))).catch(() => status(s, sha(bytes(10))))).status).toBe(404)
    expect((await put(s, 'NOT-A-HASH', 10, 0, bytes(10))).status).toBe(400)
    expect((await put(s, sha(bytes(10)), 10, 0, bytes(11))).status).toBe(400)
    expect((await fetch(`${s.url}/api/blobs/${hash}?size=1&offset=0`, { method: 'PUT', body: 'x' })).status).toBe(401)
    // Uploading complete content again changes nothing.
    expect(await (await put(s, hash, data.length, 0, data.subarray(0, 10))).json()).toMatchObject({ complete: true, received: 600_000 })
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
  })

  it('lets a note point only at complete content of the size it says, and serves it to readers of the record only', async () => {
    const s = await start()
    const id = aliceAccount(s)
    const name = `account/${id}`
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, name, doc, await s.token('alice'), { receipts: '1' })
    cleanups.push(() => p.destroy())
    await synced(p)
    const data = bytes(5000)
    const ref = (over: Partial<AttachmentRef> = {}): AttachmentRef => ({ filename: 'site.png', mimetype: 'image/png', filesize: String(data.length), contenthash: sha(data), ...over })
    const actor = { by: 'u-alice', at: new Date().toISOString() } // note times must be near the server's clock
    // Not uploaded yet: dropped.
    addNote(doc, account, 'n1', { subject: 'Photo', text: 'roof', attachment: ref() }, actor)
    const api = async (path: string, login = 'alice'): Promise<Response> => fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${await s.token(login)}` } })
    const receiptsOf = async (): Promise<Receipt[]> => (await (await api('/api/receipts')).json() as { receipts: Receipt[] }).receipts
    await until(() => readRecord(doc).notes.n1 === undefined, 'the note without uploaded content reverted', [doc])
    const first = (await receiptsOf()).at(-1)
    expect(first).toMatchObject({ change: 'note-added', reason: 'invalid-value' })
    expect(first?.message).toMatch(/has not been uploaded/)
    // Uploaded: kept; a wrong size or a partial reference is dropped.
    expect((await put(s, sha(data), data.length, 0, data)).status).toBe(200)
    addNote(doc, account, 'n2', { subject: 'Photo', text: 'roof', attachment: ref() }, actor)
    addNote(doc, account, 'n3', { subject: 'Photo', text: 'roof', attachment: ref({ filesize: '4999' }) }, actor)
    addNote(doc, account, 'n4', { subject: 'Photo', text: 'roof' }, actor)
    doc.getMap<Y.Map<string>>('notes').get('n4')!.set('contenthash', sha(data))
    await until(() => { const n = readRecord(doc).notes; return n.n2 !== undefined && n.n3 === undefined && n.n4?.contenthash === undefined }, 'attachment checks applied', [doc])
    const messages = (await receiptsOf()).map(r => r.message)
    expect(messages.some(m => /says 4999 bytes; its content has 5000/.test(m))).toBe(true)
    expect(messages.some(m => /an attachment needs filename, mimetype, filesize, contenthash/.test(m))).toBe(true)
    const got = await api(`/api/records/${name}/notes/n2/attachment`)
    expect(got.status).toBe(200)
    expect(got.headers.get('content-type')).toBe('image/png')
    // (The uploader chose the type: the browser may not sniff another, nor run it as a page of the server's origin.)
    expect(got.headers.get('x-content-type-options')).toBe('nosniff')
    expect(got.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox")
    expect(got.headers.get('content-disposition')).toMatch(/^attachment;/)
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(data)
    // carol (another business unit) may not read the record, so not its attachments either
    expect((await api(`/api/records/${name}/notes/n2/attachment`, 'carol')).status).toBe(404)
    expect((await api(`/api/records/${name}/notes/n4/attachment`)).status).toBe(404)
    // Removing the attachment is an ordinary note edit.
    editNote(doc, account, 'n2', { attachment: null }, actor)
    await until(() => s.server.rooms.has(name as never) && readRecord(s.server.rooms.get(name as never).doc).notes.n2?.contenthash === undefined, 'attachment removed on the server')
    expect((await api(`/api/records/${name}/notes/n2/attachment`)).status).toBe(404)
  })
})
