// Issue 9, class 11: attachment content must be neither an oracle nor spoilable. Upload state is per
// uploader, status shows only the caller's own uploads, a note may point only at content its author
// uploaded completely, and abandoned partial uploads are removed after BLOB_UPLOAD_TTL_SECONDS.
// Every attack goes through the real HTTP API and the y-websocket protocol against a real server.

import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, readRecord, type AttachmentRef } from '../../src/docs/record.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { ConfigError, parseConfig } from '../../src/server/config.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { deviceFor, inboxReceipts } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const start = async (env: Record<string, string> = {}, dir?: string): Promise<TestServer> => {
  const s = await startTestServer(env, dir)
  cleanups.push(() => s.dispose())
  return s
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytes = (n: number, seed = 7): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed + (i >> 8)) & 0xff)

interface Status { size: number | null, received: number | null, complete: boolean }
const put = async (s: TestServer, login: string, hash: string, size: number, offset: number, body: Uint8Array): Promise<{ status: number, body: Status }> => {
  const r = await fetch(`${s.url}/api/blobs/${hash}?size=${size}&offset=${offset}`, { method: 'PUT', headers: { authorization: `Bearer ${await s.token(login)}` }, body: body as Uint8Array<ArrayBuffer> })
  return { status: r.status, body: await r.json() as Status }
}
const status = async (s: TestServer, login: string, hash: string): Promise<{ status: number, body: Status }> => {
  const r = await fetch(`${s.url}/api/blobs/${hash}`, { headers: { authorization: `Bearer ${await s.token(login)}` } })
  return { status: r.status, body: await r.json() as Status }
}
const api = async (s: TestServer, login: string, path: string): Promise<Response> =>
  fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${await s.token(login)}` } })
const accountOf = (s: TestServer, userId: string): string =>
  String(s.projection.rows('account', { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).find(r => r.ownerid === `systemuser/${userId}`)!.id)

/** What the server answers a user who has not uploaded this content. */
const UNKNOWN = { status: 404, body: { size: null, received: 0, complete: false } }

/** Re-runs `get` every 20 ms until `done` holds of its result, within `ms`; resolves with that result. */
const eventually = async <T>(get: () => Promise<T>, done: (t: T) => boolean, what: string, ms = 8000): Promise<T> => {
  const end = Date.now() + ms
  for (;;) {
    const t = await get()
    if (done(t)) return t
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(t)}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** A y-websocket client of `login` on `name`, synced, with receipts pushed. */
const open = async (s: TestServer, login: string, name: string): Promise<Y.Doc> => {
  const doc = new Y.Doc()
  const p = provider(s.wsUrl, name, doc, await s.token(login), { receipts: '1' })
  cleanups.push(() => p.destroy())
  await synced(p)
  return doc
}

describe('attachment upload state is per uploader', () => {
  it('does not tell anyone else whether content exists, its size, or how far an upload got', async () => {
    const s = await start()
    const secret = bytes(5000)
    expect((await put(s, 'alice', sha(secret), secret.length, 0, secret)).body).toMatchObject({ complete: true })
    const partial = bytes(4000, 3)
    expect((await put(s, 'alice', sha(partial), partial.length, 0, partial.subarray(0, 1500))).body).toMatchObject({ received: 1500 })
    // carol (another business unit) and nina (alice's own unit) learn nothing.
    for (const login of ['carol', 'nina']) {
      expect(await status(s, login, sha(secret))).toEqual(UNKNOWN)
      expect(await status(s, login, sha(partial))).toEqual(UNKNOWN)
    }
    // alice sees her own state.
    expect(await status(s, 'alice', sha(secret))).toEqual({ status: 200, body: { size: 5000, received: 5000, complete: true } })
    expect(await status(s, 'alice', sha(partial))).toEqual({ status: 200, body: { size: 4000, received: 1500, complete: false } })
  })

  it('refuses (413) an upload that would take the user past MAX_ATTACHMENT_BYTES_PER_USER, and not another user\'s', async () => {
    const s = await start({ MAX_ATTACHMENT_BYTES_PER_USER: '3000' })
    const [a, b, c] = [bytes(2000, 1), bytes(1500, 2), bytes(1500, 3)]
    expect((await put(s, 'alice', sha(a), 2000, 0, a)).body.complete).toBe(true)
    const over = await fetch(`${s.url}/api/blobs/${sha(b)}?size=1500&offset=0`, { method: 'PUT', headers: { authorization: `Bearer ${await s.token('alice')}` }, body: b as Uint8Array<ArrayBuffer> })
    expect(over.status).toBe(413)
    expect(((await over.json()) as { error: string }).error).toMatch(/past your 3000/)
    expect(await status(s, 'alice', sha(b))).toEqual(UNKNOWN)
    expect((await put(s, 'bob', sha(c), 1500, 0, c)).body.complete).toBe(true)
  })

  it('does not let another user reset an upload in progress by naming another size', async () => {
    const s = await start()
    const data = bytes(6000)
    const hash = sha(data)
    expect((await put(s, 'alice', hash, data.length, 0, data.subarray(0, 2000))).body).toMatchObject({ received: 2000 })
    // carol starts "the same" upload with another size: that is her own upload, alice's stays.
    expect((await put(s, 'carol', hash, 9999, 0, bytes(100, 1))).status).toBe(200)
    expect((await status(s, 'alice', hash)).body).toMatchObject({ size: 6000, received: 2000 })
    const rest = await put(s, 'alice', hash, data.length, 2000, data.subarray(2000))
    expect(rest).toEqual({ status: 200, body: { size: 6000, received: 6000, complete: true } })
  })

  it('does not let another user spoil or complete an upload in progress by writing at its offset', async () => {
    const s = await start()
    const data = bytes(6000)
    const hash = sha(data)
    expect((await put(s, 'alice', hash, data.length, 0, data.subarray(0, 2000))).body).toMatchObject({ received: 2000 })
    // Garbage at alice's offset would make her upload fail its hash check; for carol it is at the wrong offset.
    const spoil = await put(s, 'carol', hash, data.length, 2000, bytes(4000, 99))
    expect(spoil.status).toBe(409)
    expect(spoil.body.received).toBe(0)
    // Nor can carol finish alice's upload with the right bytes (and so own content she never sent whole).
    const finish = await put(s, 'carol', hash, data.length, 2000, data.subarray(2000))
    expect(finish.status).toBe(409)
    expect(finish.body.received).toBe(0)
    expect(await status(s, 'carol', hash)).toEqual(UNKNOWN)
    expect((await status(s, 'alice', hash)).body).toMatchObject({ size: 6000, received: 2000, complete: false })
    expect((await put(s, 'alice', hash, data.length, 2000, data.subarray(2000))).body).toMatchObject({ received: 6000, complete: true })
  })
})

describe('a note may point only at content its author uploaded', () => {
  it('drops a note pointing at someone else\'s content by hash, until its author uploads that content whole', async () => {
    const s = await start()
    // alice's confidential picture, on her own record (carol may not read it).
    const secret = bytes(70_000, 42)
    const hash = sha(secret)
    expect((await put(s, 'alice', hash, secret.length, 0, secret)).body).toMatchObject({ complete: true })
    const partsOf = (): number => Number(s.sql<{ n: number }>('SELECT count(*) AS n FROM blob_parts WHERE hash = ?', hash)[0].n)
    const storedParts = partsOf()

    // carol knows (or guesses) the hash and size and points a note on her own account at it.
    const name = `account/${accountOf(s, 'u-carol')}`
    const doc = await open(s, 'carol', name)
    const ref: AttachmentRef = { filename: 'stolen.png', mimetype: 'image/png', filesize: String(secret.length), contenthash: hash }
    const actor = { by: 'u-carol', at: '2026-11-27T12:00:00.000Z' }
    const receipts = async (): Promise<Receipt[]> => (await (await api(s, 'carol', '/api/receipts')).json() as { receipts: Receipt[] }).receipts
    addNote(doc, account, 'n1', { subject: 'Mine', text: '', attachment: ref }, actor)
    await until(() => readRecord(doc).notes.n1 === undefined, 'the note pointing at content carol never uploaded reverted', [doc])
    expect((await receipts()).at(-1)).toMatchObject({ record: name, change: 'note-added', reason: 'invalid-value' })
    expect((await api(s, 'carol', `/api/records/${name}/notes/n1/attachment`)).status).toBe(404)

    // Half of it is not enough: an upload proves possession only once it is complete.
    expect((await put(s, 'carol', hash, secret.length, 0, secret.subarray(0, 30_000))).body).toMatchObject({ received: 30_000 })
    addNote(doc, account, 'n2', { subject: 'Mine', text: '', attachment: ref }, actor)
    await until(() => readRecord(doc).notes.n2 === undefined, 'the note pointing at half-uploaded content reverted', [doc])
    expect((await receipts()).at(-1)).toMatchObject({ record: name, change: 'note-added', reason: 'invalid-value' })

    // Once carol has uploaded the content whole she holds it: her note stands. The server keeps the
    // content once and drops carol's parts.
    expect((await put(s, 'carol', hash, secret.length, 30_000, secret.subarray(30_000)))).toEqual({ status: 200, body: { size: secret.length, received: secret.length, complete: true } })
    expect(await status(s, 'carol', hash)).toEqual({ status: 200, body: { size: secret.length, received: secret.length, complete: true } })
    expect(partsOf()).toBe(storedParts)
    addNote(doc, account, 'n3', { subject: 'Mine', text: '', attachment: ref }, actor)
    await until(() => s.server.rooms.has(name as never) && readRecord(s.server.rooms.get(name as never).doc).notes.n3?.contenthash === hash, 'carol\'s note with content she uploaded committed')
    const got = await api(s, 'carol', `/api/records/${name}/notes/n3/attachment`)
    expect(got.status).toBe(200)
    expect(Buffer.compare(new Uint8Array(await got.arrayBuffer()), secret)).toBe(0)
  })

  it('does not let an attacker swap an existing note\'s attachment for someone else\'s content', async () => {
    const s = await start()
    const secret = bytes(3000, 5)
    const hash = sha(secret)
    expect((await put(s, 'alice', hash, secret.length, 0, secret)).body).toMatchObject({ complete: true })
    const own = bytes(1000, 6)
    expect((await put(s, 'carol', sha(own), own.length, 0, own)).body).toMatchObject({ complete: true })
    const name = `account/${accountOf(s, 'u-carol')}`
    const doc = await open(s, 'carol', name)
    const actor = { by: 'u-carol', at: '2026-11-27T12:00:00.000Z' }
    addNote(doc, account, 'n1', { subject: 'Mine', text: '', attachment: { filename: 'a.bin', mimetype: 'application/octet-stream', filesize: String(own.length), contenthash: sha(own) } }, actor)
    await until(() => s.server.rooms.has(name as never) && readRecord(s.server.rooms.get(name as never).doc).notes.n1?.contenthash === sha(own), 'carol\'s own attachment committed')
    // Repoint it at alice's content.
    doc.transact(() => {
      const n = doc.getMap<Y.Map<string>>('notes').get('n1')!
      n.set('contenthash', hash)
      n.set('filesize', String(secret.length))
    })
    await until(() => readRecord(doc).notes.n1?.contenthash === sha(own), 'the repointed attachment reverted', [doc])
    const got = await api(s, 'carol', `/api/records/${name}/notes/n1/attachment`)
    expect(Buffer.compare(new Uint8Array(await got.arrayBuffer()), own)).toBe(0)
  })
})

describe('the device SDK under per-uploader content', () => {
  it('uploads content another user already uploaded, also after downloading it, so its own note stands', async () => {
    const s = await start()
    const alice = await deviceFor(cleanups, s, 'alice')
    const nina = await deviceFor(cleanups, s, 'nina')
    await alice.sync()
    const shared = await alice.create('account', { name: 'Wingtip Toys' })
    await alice.sync()
    const assigned = await fetch(`${s.url}/api/records/${shared}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await s.token('alice')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'team/t-north' }) })
    expect(assigned.status).toBe(200)
    const photo = bytes(300_000, 11)
    const first = await alice.addNote(shared, { subject: 'Storefront', text: '', attachment: { filename: 'a.jpg', mimetype: 'image/jpeg', data: photo } })
    await alice.sync()
    // nina downloads alice's picture, then attaches the same bytes to a note of her own.
    await nina.sync()
    expect(Buffer.compare(await nina.attachment(shared, first), photo)).toBe(0)
    const uploads: { from: number, size: number }[] = []
    nina.on('uploaded', (u: { from: number, size: number }) => uploads.push(u))
    await nina.sync()
    const own = await nina.create('account', { name: 'Tailspin Toys' })
    const second = await nina.addNote(own, { subject: 'Same shop', text: '', attachment: { filename: 'b.jpg', mimetype: 'image/jpeg', data: photo } })
    await nina.sync()
    expect(uploads).toEqual([{ hash: sha(photo), from: 0, size: photo.length }])
    expect(await inboxReceipts(nina)).toEqual([])
    expect(readRecord(s.server.rooms.get(own as never).doc).notes[second]?.contenthash).toBe(sha(photo))
    // Attaching content this user uploaded already costs no second upload.
    const third = await nina.addNote(own, { subject: 'Again', text: '', attachment: { filename: 'c.jpg', mimetype: 'image/jpeg', data: photo } })
    await nina.sync()
    expect(uploads.at(-1)).toEqual({ hash: sha(photo), from: photo.length, size: photo.length })
    expect(readRecord(s.server.rooms.get(own as never).doc).notes[third]?.contenthash).toBe(sha(photo))
    const stored = s.sql<{ n: number }>('SELECT count(*) AS n FROM blob_parts WHERE hash = ?', sha(photo))[0]
    expect(stored.n).toBe(2) // alice's two chunks; nina's copy was not kept
  })
})

describe('abandoned partial uploads', () => {
  it('are removed BLOB_UPLOAD_TTL_SECONDS after their last chunk, while complete content stays', async () => {
    const s = await start({ BLOB_UPLOAD_TTL_SECONDS: '1' })
    const whole = bytes(2000, 1)
    expect((await put(s, 'alice', sha(whole), whole.length, 0, whole)).body).toMatchObject({ complete: true })
    const data = bytes(5000, 2)
    expect((await put(s, 'alice', sha(data), data.length, 0, data.subarray(0, 1000))).body).toMatchObject({ received: 1000 })
    // The sweep runs on its own: wait for its effect, re-asking every 20 ms, within a bound.
    const seen = await eventually(() => status(s, 'alice', sha(data)), r => r.status === 404, 'the partial upload removed')
    expect(seen).toEqual(UNKNOWN)
    const resumed = await put(s, 'alice', sha(data), data.length, 1000, data.subarray(1000))
    expect(resumed.status).toBe(409)
    expect(resumed.body.received).toBe(0)
    expect(await status(s, 'alice', sha(whole))).toEqual({ status: 200, body: { size: 2000, received: 2000, complete: true } })
    const stored = s.sql<{ n: number }>('SELECT count(*) AS n FROM blob_upload_parts')[0]
    expect(stored.n).toBe(0)
  })

  it('are removed when the server starts, if they were abandoned longer ago than the limit', async () => {
    const first = await startTestServer()
    cleanups.push(() => first.dispose())
    const dir = first.dir
    const data = bytes(5000, 2)
    expect((await put(first, 'alice', sha(data), data.length, 0, data.subarray(0, 1000))).body).toMatchObject({ received: 1000 })
    // Two days pass (the last chunk is made two days older).
    first.sql('UPDATE blob_uploads SET touched = touched - ?', 2 * 86_400_000)
    await first.stop()
    const s = await start({}, dir)
    expect(await status(s, 'alice', sha(data))).toEqual(UNKNOWN)
  })

  it('take the limit from BLOB_UPLOAD_TTL_SECONDS, a day by default', () => {
    expect(parseConfig({}).blobUploadTtlSeconds).toBe(86_400)
    expect(parseConfig({ BLOB_UPLOAD_TTL_SECONDS: '600' }).blobUploadTtlSeconds).toBe(600)
    expect(() => parseConfig({ BLOB_UPLOAD_TTL_SECONDS: '0' })).toThrow(ConfigError)
    expect(() => parseConfig({ BLOB_UPLOAD_TTL_SECONDS: 'soon' })).toThrow(/BLOB_UPLOAD_TTL_SECONDS/)
  })
})
