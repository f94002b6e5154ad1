// Attachment uploads that do not get through at once (issue 10): a 503 from a proxy in front of the
// server and a token that expired mid-cycle are retried, and the note waits for its content instead of
// being dropped; a 413 is final and reported in the inbox.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike, type UploadFailure } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import type { TokenSource } from '../../src/client/token.ts'
import type { UploadBackoff } from '../../src/client/attachments.ts'
import { issueToken } from '../../src/server/auth.ts'
import { readRecord } from '../../src/docs/record.ts'
import { SECRET, startTestServer, until, type TestServer } from '../helpers/server.ts'
import { inboxReceipts, serverFor } from '../helpers/device.ts'
import { startProxy } from '../helpers/proxy.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const picture = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + (i >> 7)) & 0xff)

const open = async (port: number, token: TokenSource, opts: { uploadBackoff?: UploadBackoff, WebSocket?: new (url: string) => SocketLike } = {}): Promise<FieldsyncDevice> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
  const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${port}`, token, store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: opts.WebSocket ?? WebSocket as unknown as new (url: string) => SocketLike, uploadBackoff: opts.uploadBackoff })
  cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
  return d
}

const tokenOf = (s: TestServer, login: string, ttlSeconds = 3600, now = Date.now()): Promise<string> =>
  issueToken(SECRET, s.security.model.org.users.find(u => u.login === login)!, ttlSeconds, now)

/** An account of alice's on her device. */
const aliceAccount = async (d: FieldsyncDevice): Promise<string> =>
  (await d.list('account')).find(r => r.values.ownerid === 'systemuser/u-alice')!.record

const serverNote = (s: TestServer, record: string, noteId: string): string | undefined =>
  readRecord(s.server.rooms.get(record as never).doc).notes[noteId]?.contenthash

const download = async (s: TestServer, record: string, noteId: string): Promise<Uint8Array> => {
  const res = await fetch(`${s.url}/api/records/${record}/notes/${noteId}/attachment`, { headers: { authorization: `Bearer ${await s.token('nina')}` } })
  expect(res.status).toBe(200)
  return new Uint8Array(await res.arrayBuffer())
}

describe('attachment uploads that do not get through at once', () => {
  it('retries a 503 with backoff on later cycles; the note waits for its content, other edits go out', async () => {
    const s = await serverFor(cleanups)
    let failing = 3
    const proxy = await startProxy(s.port, req => req.url?.startsWith('/api/blobs/') === true && failing-- > 0 ? { status: 503, body: { error: 'service unavailable' } } : null)
    cleanups.push(() => proxy.close())
    const alice = await open(proxy.port, await s.token('alice'), { uploadBackoff: { baseMs: 40, maxMs: 1000 } })
    const failures: UploadFailure[] = []
    alice.on('uploadFailed', (f: UploadFailure) => failures.push(f))
    await alice.sync()
    const [account, other] = (await alice.list('account')).filter(r => r.values.ownerid === 'systemuser/u-alice').map(r => r.record)
    alice.disconnect()
    const photo = picture(70_000)
    const noteId = await alice.addNote(account, { subject: 'Roof', text: 'storm damage', attachment: { filename: 'roof.jpg', mimetype: 'image/jpeg', data: photo } })
    await alice.update(other, { telephone1: '+47 555 0101' })

    await expect(alice.sync()).rejects.toThrow(/attachment upload failed: .*503/)
    expect(failures).toMatchObject([{ status: 503, final: false, retryInMs: 40 }])
    // The note did not go out without its content; the edit of another record did.
    expect(serverNote(s, account, noteId)).toBeUndefined()
    expect(s.projection.row('account', other.split('/')[1])?.telephone1).toBe('+47 555 0101')
    expect(await alice.unsyncedCount()).toBe(1)

    // Periodic syncs try again, waiting longer after each failure, until the server answers.
    alice.startPeriodic(10)
    await until(() => serverNote(s, account, noteId) !== undefined, 'the note on the server', [], 10_000)
    alice.stopPeriodic()
    expect(failures.map(f => [f.status, f.final, f.retryInMs])).toEqual([[503, false, 40], [503, false, 80], [503, false, 160]])
    expect(Buffer.compare(await download(s, account, noteId), photo)).toBe(0)
    expect(await inboxReceipts(alice)).toEqual([])
  })

  it('renews an expired token through the token callback and uploads in the same sync', async () => {
    const s = await serverFor(cleanups)
    const asked: boolean[] = []
    let cached = await tokenOf(s, 'alice')
    const token = async (request?: { refused: boolean }): Promise<string> => {
      const refused = request?.refused === true
      asked.push(refused)
      if (refused) cached = await tokenOf(s, 'alice')
      return cached
    }
    // The cached token expires right after a socket opened with it.
    const expired = await tokenOf(s, 'alice', 60, Date.now() - 3_600_000)
    let expireOnConnect = false
    const Socket = function (url: string): WebSocket {
      const ws = new WebSocket(url)
      if (expireOnConnect) cached = expired
      return ws
    } as unknown as new (url: string) => SocketLike
    const alice = await open(s.port, token, { WebSocket: Socket })
    await alice.sync()
    const account = await aliceAccount(alice)
    alice.disconnect()
    const photo = picture(9000)
    const noteId = await alice.addNote(account, { subject: 'Meter', text: '', attachment: { filename: 'meter.jpg', mimetype: 'image/jpeg', data: photo } })
    expireOnConnect = true
    asked.length = 0
    await alice.sync()
    // connect, the upload refused with 401, the renewed token, the rest of the upload
    expect(asked.slice(0, 3)).toEqual([false, false, true])
    expect(serverNote(s, account, noteId)).toBeDefined()
    expect(Buffer.compare(await download(s, account, noteId), photo)).toBe(0)
    expect(await inboxReceipts(alice)).toEqual([])
  })

  it('takes a 413 as final: reported in the inbox, not retried, and the note is dropped by the server', async () => {
    const s = await serverFor(cleanups, { MAX_ATTACHMENT_BYTES: '100000' })
    const alice = await open(s.port, await s.token('alice'))
    await alice.sync()
    const account = await aliceAccount(alice)
    alice.disconnect()
    // The server's limit is lowered while the device is offline: its metadata still allows 100,000 bytes.
    await s.stop()
    const lower = await startTestServer({ MAX_ATTACHMENT_BYTES: '1000', PORT: String(s.port) }, s.dir)
    cleanups.push(() => lower.stop())
    const failures: UploadFailure[] = []
    alice.on('uploadFailed', (f: UploadFailure) => failures.push(f))
    const noteId = await alice.addNote(account, { subject: 'Plan', text: '', attachment: { filename: 'plan.pdf', mimetype: 'application/pdf', data: picture(5000) } })
    await alice.sync()
    expect(failures).toMatchObject([{ status: 413, final: true, retryInMs: null }])
    const inbox = await alice.inbox()
    expect(inbox.find(i => i.receipt.reason === 'upload-refused')?.receipt).toMatchObject({ record: account, message: expect.stringMatching(/plan\.pdf \(413\).*at most 1000 bytes/) })
    // The server dropped the note that pointed at content it never got, with its receipt.
    expect(inbox.some(i => i.receipt.reason === 'invalid-value' && /has not been uploaded/.test(i.receipt.message))).toBe(true)
    expect(readRecord(lower.server.rooms.get(account as never).doc).notes[noteId]).toBeUndefined()
    await alice.sync()
    expect(failures).toHaveLength(1)
    expect(await alice.store.pendingBlobs()).toEqual([])
  })
})
