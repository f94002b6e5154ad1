// Issue 9, class 12: a socket does not outlive its token; the device SDK gets fresh tokens from the app.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { issueToken } from '../../src/server/auth.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame } from '../../src/protocol/device-frames.ts'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { readRecord } from '../../src/docs/record.ts'
import { provider, SECRET, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { rawSync, within } from './sync-socket.ts'

const cleanups = useCleanups()

const start = async (): Promise<TestServer> => {
  const s = await startTestServer()
  cleanups.push(() => s.dispose())
  return s
}

/** A token of `login` that expires in one to two seconds. */
const shortToken = (s: TestServer, login: string, ttlSeconds = 2): Promise<string> =>
  issueToken(SECRET, s.security.model.org.users.find(u => u.login === login)!, ttlSeconds)

describe('sockets and token expiry (issue 9, class 12)', () => {
  it('closes a /sync socket with 4401 when its token expires', async () => {
    const s = await start()
    const sock = await rawSync(`${s.wsUrl}/account/acc0004?token=${await shortToken(s, 'alice')}`, cleanups)
    const other = new Y.Doc()
    const p = provider(s.wsUrl, 'account/acc0004', other, await s.token('nina'))
    cleanups.push(() => p.destroy())
    await synced(p)
    expect((await within(sock.closed, 5000, 'the socket closed')).code).toBe(CloseCode.tokenExpired)
    // a socket with a valid token on the same record stays
    expect(p.wsconnected).toBe(true)
  })

  it('closes a /device socket with 4401 when its token expires', async () => {
    const s = await start()
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${await shortToken(s, 'alice')}`)
    cleanups.push(() => ws.terminate())
    ws.on('error', () => {})
    const closed = new Promise<number>(resolve => ws.on('close', code => resolve(code)))
    await new Promise(resolve => ws.on('open', resolve))
    ws.send(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: 'expiring-device', cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
    expect(await within(closed, 5000, 'the device socket closed')).toBe(CloseCode.tokenExpired)
  })

  it('the device SDK asks the app for a fresh token after 4401 and finishes the waiting sync', async () => {
    const s = await start()
    const alice = s.security.model.org.users.find(u => u.login === 'alice')!
    let calls = 0
    // The first token expires within two seconds; the app hands out a fresh one when asked again.
    const token = async (): Promise<string> => issueToken(SECRET, alice, ++calls === 1 ? 2 : 3600)
    // The first socket loses the device's syncNow, so the sync is still waiting when the token expires.
    let sockets = 0
    const Socket = function (url: string): WebSocket {
      const ws = new WebSocket(url)
      const n = ++sockets
      const send = ws.send.bind(ws)
      ws.send = ((data: Uint8Array) => { if (n === 1 && data[0] === DeviceMessage.syncNow) return; send(data) }) as typeof ws.send
      return ws
    } as unknown as new (url: string) => SocketLike
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token, store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: Socket })
    cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
    await within(d.sync(), 10_000, 'the sync')
    expect(calls).toBe(2)
    expect(sockets).toBe(2)
    expect(await d.store.records()).toContain('account/acc0004')

    // Uploads ask for a token too: a note with a picture reaches the server.
    const data = new Uint8Array(5000).map((_, i) => i % 251)
    const noteId = await d.addNote('account/acc0004', { subject: 'Photo', text: '', attachment: { filename: 'p.jpg', mimetype: 'image/jpeg', data } })
    const before = calls
    await within(d.sync(), 10_000, 'the second sync')
    expect(calls).toBeGreaterThan(before)
    const check = new Y.Doc()
    const p = provider(s.wsUrl, 'account/acc0004', check, await s.token('avery'))
    cleanups.push(() => p.destroy())
    await synced(p)
    await until(() => readRecord(check).notes[noteId]?.filename === 'p.jpg', 'the note with its attachment on the server', [check])
  })
})
