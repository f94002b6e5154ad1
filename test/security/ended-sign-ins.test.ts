// "revoke-tokens: every token of the user issued so far is refused and every sign-in ends (a lost
// phone)"; "POST /auth/logout ends one (its tokens stop working at once)". A socket opened with such a
// token is that token at work: it must close (4401, as when the token expires) when its sign-in ends,
// not go on receiving every change of the user's records and taking edits in the user's name until the
// token's own expiry (up to TOKEN_TTL_SECONDS). Before the fix, open /device and /sync sockets were
// left alone: a lost phone stayed connected for up to 15 minutes after its user revoked it.

import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, holdingsDigest } from '../../src/protocol/device-frames.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { ON_PG } from '../helpers/test-store.ts'
import { MAX_SESSIONS_PER_USER } from '../../src/server/sessions.ts'
import { api, copyOf, edit, ownedBy, rawAt, startServer, TIME } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

/** A /device socket opened with `token`, after its first cycle, that records how it closed. */
const device = async (s: TestServer, token: string, id: string): Promise<{ ws: WebSocket, closed: () => number | undefined }> => {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${token}`)
  ws.on('error', () => {})
  cleanups.push(() => ws.terminate())
  let code: number | undefined
  let done = false
  ws.on('close', c => { code = c })
  ws.on('message', () => { done = true })
  await new Promise(resolve => ws.on('open', resolve))
  ws.send(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: id, cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
  ws.send(encodeDeviceFrame({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: holdingsDigest([]), receiptSeq: 0 }))
  await until(() => done, 'the device hears from the server')
  return { ws, closed: () => code }
}

/** After the sign-in ended: the device pushes an edit in the user's name; it must not land, and both sockets close with 4401. */
const expectEnded = async (s: TestServer, d: Awaited<ReturnType<typeof device>>, sync: Awaited<ReturnType<typeof rawAt>>, name: string): Promise<void> => {
  const update = edit(copyOf(s, name as never), doc => setField(doc, account, 'telephone1', '+47 lost phone', { by: 'u-alice', at: TIME }))
  d.ws.send(encodeDeviceFrame({ type: DeviceMessage.push, record: name, id: 1, update }))
  const row = (): unknown => s.projection.row('account', name.split('/')[1])?.telephone1
  await until(() => d.closed() !== undefined || row() === '+47 lost phone', 'the device closed, or its edit landed')
  await s.server.rooms.get(name as never).settled()
  expect(row()).not.toBe('+47 lost phone')
  expect(d.closed()).toBe(CloseCode.tokenExpired)
  expect((await sync.closed).code).toBe(CloseCode.tokenExpired)
}

describe('sockets of an ended sign-in', () => {
  it('close with 4401 when an administrator revokes the user\'s tokens (a lost phone)', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const token = await s.token('alice')
    const d = await device(s, token, 'device-lost-phone-1')
    const sync = await rawAt(cleanups, `${s.wsUrl}/${name}?token=${token}`)
    expect((await api(s, 'avery', '/api/admin/users/u-alice/revoke-tokens', { method: 'POST' })).status).toBe(200)
    await expectEnded(s, d, sync, name)
  })

  it('close with 4401 when the sign-in is ended with POST /auth/logout', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const signIn = await fetch(`${s.url}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice' }) })
    const { token, refreshToken } = await signIn.json() as { token: string, refreshToken: string }
    const d = await device(s, token, 'device-lost-phone-2')
    const sync = await rawAt(cleanups, `${s.wsUrl}/${name}?token=${token}`)
    const out = await fetch(`${s.url}/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) })
    expect(out.status).toBe(200)
    await expectEnded(s, d, sync, name)
  })
})

describe('signing in again and again', () => {
  it('ends no sign-in (and makes no instance check the user\'s sockets) until one past the limit is dropped', async () => {
    const s = await startServer(cleanups)
    const ended: string[] = []
    cleanups.push(s.server.authenticator.onSignInsEnded(userId => { ended.push(userId) }))
    const token = await s.token('alice')
    const d = await device(s, token, 'device-kept-open')
    const signIn = async (): Promise<number> => (await fetch(`${s.url}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice' }) })).status
    for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) expect(await signIn()).toBe(200)
    expect(ended).toEqual([])
    if (ON_PG) expect(s.sql<{ n: number }>('SELECT count(*)::int AS n FROM sign_in_ends')[0].n).toBe(0)
    expect(await signIn()).toBe(200) // the 51st: the oldest of alice's sign-ins ends
    expect(ended).toEqual(['u-alice'])
    expect(d.closed()).toBeUndefined() // (its token has no sign-in of its own)
  })
})
