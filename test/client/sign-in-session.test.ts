// The device SDK's sign-in session against a real server outside demo mode (TOKEN_TTL_SECONDS=60, the
// server's sign-in clock and the session's moved together by the test): password sign-in, renewal before
// expiry and when refused, work offline with the token in hand and renewal when back, a sign-in ended on
// the server, and sign-out (the server's session ended, the device's store deleted) online and offline.

import { describe, expect, it } from 'vitest'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { issueToken } from '../../src/server/auth.ts'
import { SIGN_IN_REFUSED } from '../../src/server/auth-routes.ts'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { SignInFailed, SignInSession, type SessionState, type SignInOptions } from '../../src/client/sign-in-session.ts'
import { SECRET, startTestServer, type TestServer } from '../helpers/server.ts'
import { FAST_SCRYPT, setPassword } from '../helpers/sign-in.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const PASSWORD = 'alice has a long password'

/** A server outside demo mode where alice has a password, and a clock the test moves for both sides. */
const setUp = async (): Promise<{ s: TestServer, opts: SignInOptions, advance: (ms: number) => void, calls: () => number, restart: () => Promise<TestServer> }> => {
  let now = Date.now()
  const clock = (): number => now
  let s = await startTestServer({ ...FAST_SCRYPT, DEMO: '0', TOKEN_TTL_SECONDS: '60' }, undefined, { clock })
  cleanups.push(() => s.dispose())
  const admin = await issueToken(SECRET, s.security.index.userByLogin('avery')!, 3600, now)
  expect((await setPassword(s.server.app, admin, 'u-alice', PASSWORD)).status).toBe(200)
  let n = 0
  const counted: typeof fetch = async (input, init) => { n++; return fetch(input, init) }
  const opts: SignInOptions = { url: s.url, clock, fetch: counted }
  return { s, opts, advance: ms => { now += ms }, calls: () => n, restart: async () => { s = await s.restart(); return s } }
}

const authorized = async (s: TestServer, token: string): Promise<number> =>
  (await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${token}` } })).status

const deviceStore = (): { file: string, store: SqliteLocalStore } => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-session-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'device.db')
  return { file, store: new SqliteLocalStore(file) }
}

describe('the sign-in session (device SDK)', () => {
  it('signs in with a password; a wrong one is refused with the server\'s one answer', async () => {
    const { s, opts } = await setUp()
    const refused = await SignInSession.signIn(opts, 'alice', 'not her password').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(SignInFailed)
    expect(refused).toMatchObject({ status: 401, message: SIGN_IN_REFUSED, code: 'sign-in-failed' })
    const session = await SignInSession.signIn(opts, 'alice', PASSWORD)
    expect(session.user).toMatchObject({ id: 'u-alice', login: 'alice' })
    expect(await authorized(s, session.state.token)).toBe(200)
  })

  it('hands out its token until shortly before expiry, then renews it (and whenever the server refused it)', async () => {
    const { s, opts, advance, calls } = await setUp()
    const session = await SignInSession.signIn(opts, 'alice', PASSWORD)
    const kept: SessionState[] = []
    session.on('session', st => kept.push(st))
    const first = session.state
    const before = calls()
    advance(20_000) // 40 s left of 60: not due (renewal comes in the last 30 s)
    expect(await session.token({ refused: false })).toBe(first.token)
    expect(calls()).toBe(before)
    advance(15_000) // 25 s left
    const second = await session.token({ refused: false })
    expect(second).not.toBe(first.token)
    expect(kept.map(k => k.token)).toEqual([second])
    expect(session.state.refreshToken).not.toBe(first.refreshToken) // rotated
    expect(Date.parse(session.state.expiresAt)).toBeGreaterThan(Date.parse(first.expiresAt))
    expect(await session.token({ refused: false })).toBe(second) // fresh again
    advance(1_000) // (a token issued in the same second with the same claims would be the same string)
    const third = await session.token({ refused: true }) // the server refused it: renewed although not due
    expect(third).not.toBe(second)
    expect(await authorized(s, third)).toBe(200)
    // Asked twice at once: one renewal.
    const n = calls()
    const [a, b] = await Promise.all([session.token({ refused: true }), session.token({ refused: true })])
    expect(a).toBe(b)
    expect(calls()).toBe(n + 1)
  })

  it('keeps handing out the token it has while the server is down, and renews once it is back', async () => {
    const { s, opts, advance, restart } = await setUp()
    const session = await SignInSession.signIn(opts, 'alice', PASSWORD)
    const first = session.state.token
    await s.stop()
    advance(50_000) // due
    expect(await session.token({ refused: false })).toBe(first) // unreachable: the token in hand
    expect(await session.token({ refused: true })).toBe(first)
    expect(await session.renew()).toBe(false)
    expect(session.ended).toBe(false)
    const back = await restart() // on the same port
    const renewed = await session.token({ refused: false })
    expect(renewed).not.toBe(first)
    expect(await authorized(back, renewed)).toBe(200)
  })

  it('works offline past expiry and renews when back: a device syncs again with the renewed token', async () => {
    const { s, opts, advance, restart } = await setUp()
    const session = await SignInSession.signIn(opts, 'alice', PASSWORD)
    const { store } = deviceStore()
    const device = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: session.token, store, WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
    cleanups.push(() => device.close())
    await device.sync()
    const held = (await store.records()).length
    expect(held).toBeGreaterThan(10)
    const first = session.state.token
    await s.stop()
    device.disconnect()
    advance(90_000) // the token has expired while offline
    const account = (await device.list('account'))[0].record
    await device.update(account, { telephone1: '+47 offline' })
    expect(await device.unsyncedCount()).toBe(1)
    await restart()
    await device.sync()
    expect(await device.unsyncedCount()).toBe(0)
    expect(session.state.token).not.toBe(first)
  })

  it('a sign-in ended on the server: renewal throws SignInFailed and `ended` fires', async () => {
    const { s, opts } = await setUp()
    const session = await SignInSession.signIn(opts, 'alice', PASSWORD)
    const ended: SignInFailed[] = []
    session.on('ended', e => ended.push(e))
    const elsewhere = await fetch(`${s.url}/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: session.state.refreshToken }) })
    expect(elsewhere.status).toBe(200)
    await expect(session.token({ refused: true })).rejects.toMatchObject({ status: 401, code: 'sign-in-failed' })
    expect(ended.length).toBe(1)
    expect(session.ended).toBe(true)
  })

  it('signs out: the server ends the sign-in and the device store is deleted; offline, the store is deleted all the same', async () => {
    const { s, opts } = await setUp()
    const session = await SignInSession.signIn(opts, 'alice', PASSWORD)
    const { file, store } = deviceStore()
    const device = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: session.token, store, WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
    await device.sync()
    expect((await store.records()).length).toBeGreaterThan(10)
    expect(await session.signOut(device)).toEqual({ serverSignedOut: true }) // closes the device, destroys its store
    expect(existsSync(file)).toBe(false)
    const renewal = await fetch(`${s.url}/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: session.state.refreshToken }) })
    expect(renewal.status).toBe(401)
    await expect(session.token({ refused: true })).rejects.toBeInstanceOf(SignInFailed)

    const again = await SignInSession.signIn(opts, 'alice', PASSWORD)
    const other = deviceStore()
    await other.store.setMeta({ deviceId: 'd', cursor: 3, privilegeVersion: 0, metadata: null, receiptSeq: 0 })
    await s.stop()
    expect(await again.signOut(other.store)).toEqual({ serverSignedOut: false })
    expect(existsSync(other.file)).toBe(false)
  })

  it('demo mode: signs in as a demo user without a password; outside demo mode, or an unknown user, is refused', async () => {
    const demo = await startTestServer()
    cleanups.push(() => demo.dispose())
    const session = await SignInSession.signInDemo({ url: demo.url }, 'bob')
    expect(session.user).toMatchObject({ login: 'bob' })
    expect(await authorized(demo, session.state.token)).toBe(200)
    expect(await session.renew()).toBe(true) // a refresh token like a password sign-in's
    await expect(SignInSession.signInDemo({ url: demo.url }, 'nobody')).rejects.toMatchObject({ status: 404, code: 'sign-in-failed' })
    const { opts } = await setUp() // DEMO=0
    await expect(SignInSession.signInDemo(opts, 'bob')).rejects.toMatchObject({ status: 404 })
  })
})
