// Sign-in end to end: the real server process (`src/server/main.ts`, the default scrypt cost) outside
// demo mode from a new database — the printed administrator token sets a password, the administrator
// signs in over HTTP, syncs over /sync, renews, and still can after a restart — and in demo mode with the
// demo password. Then, on a listening server: disabling a user closes their sockets at once.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { startServerProcess } from '../helpers/process.ts'
import { provider, startTestServer, synced, until } from '../helpers/server.ts'
import { rawDevice } from '../security/support.ts'
import { DeviceMessage, holdingsDigest } from '../../src/protocol/device-frames.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { DEMO_PASSWORD } from '../../src/server/authenticator.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import type { SignedIn } from '../helpers/sign-in.ts'

const cleanups = useCleanups()

const post = async (url: string, body: unknown, token?: string, method = 'POST'): Promise<{ status: number, body: Record<string, unknown> }> => {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const r = await fetch(url, { method, headers, body: JSON.stringify(body) })
  return { status: r.status, body: await r.json() as Record<string, unknown> }
}

describe('sign-in end to end (npm start)', () => {
  it('outside demo mode: the printed admin token sets a password; sign-in, /sync, renewal, and again after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-signin-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const env = { DATA_DIR: dir, DEMO: '0', CUSTOM_ENTITIES: '' }
    const s = await startServerProcess(env)
    cleanups.push(() => s.kill('SIGKILL'))
    const base = `http://127.0.0.1:${s.port}`
    const printed = /admin token[^\n]*\n(\S+)/.exec(s.output())?.[1]
    expect(printed).toBeDefined()
    expect(s.output()).toMatch(/set its password: curl -s -X PUT http:\/\/127\.0\.0\.1:\d+\/api\/admin\/users\/u-admin\/password/)
    const password = 'the administrator chose this'
    expect(await post(`${base}/api/admin/users/u-admin/password`, { password }, printed, 'PUT')).toEqual({ status: 200, body: { passwordSet: true } })
    expect((await post(`${base}/auth/login`, { login: 'admin', password: 'not it at all' })).status).toBe(401)
    const signedIn = await post(`${base}/auth/login`, { login: 'admin', password })
    expect(signedIn.status).toBe(200)
    const { token, refreshToken } = signedIn.body as unknown as SignedIn
    // the token works over /sync with the real y-websocket client
    const doc = new Y.Doc()
    const p = provider(`ws://127.0.0.1:${s.port}/sync`, 'account/acc0001', doc, token)
    cleanups.push(() => p.destroy())
    await synced(p)
    p.destroy()
    // renewal by refresh token and by bearer token
    const renewed = await post(`${base}/auth/refresh`, { refreshToken })
    expect(renewed.status).toBe(200)
    expect((await fetch(`${base}/api/admin/model`, { headers: { authorization: `Bearer ${renewed.body.token as string}` } })).status).toBe(200)
    expect((await post(`${base}/auth/refresh`, undefined, renewed.body.token as string)).status).toBe(200)
    await s.kill('SIGTERM')

    const again = await startServerProcess(env)
    cleanups.push(() => again.kill('SIGKILL'))
    const base2 = `http://127.0.0.1:${again.port}`
    expect(again.output()).not.toMatch(/admin token/)
    expect((await post(`${base2}/auth/login`, { login: 'admin', password })).status).toBe(200)
    // the sign-in made before the restart still renews
    expect((await post(`${base2}/auth/refresh`, { refreshToken: renewed.body.refreshToken })).status).toBe(200)
  })

  it('in demo mode, demo users sign in with the demo password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-signin-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const s = await startServerProcess({ DATA_DIR: dir, CUSTOM_ENTITIES: '' })
    cleanups.push(() => s.kill('SIGKILL'))
    // (Printed after the line the start waits for: it may arrive a moment later.)
    await until(() => s.output().includes(`password "${DEMO_PASSWORD}"`), 'the demo password printed')
    const r = await post(`http://127.0.0.1:${s.port}/auth/login`, { login: 'alice', password: DEMO_PASSWORD })
    expect(r).toMatchObject({ status: 200, body: { user: { login: 'alice' } } })
  })
})

describe('disabling a user', () => {
  it('closes their /sync sockets at once (4403: they hold no privileges), evicts their device\'s records, and refuses their next request', async () => {
    const s = await startTestServer()
    cleanups.push(() => s.dispose())
    const device = await rawDevice(cleanups, s, 'alice', 'disabled-device-1')
    device.send({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: holdingsDigest([]), receiptSeq: 0 })
    await until(() => device.frames.some(f => f.type === DeviceMessage.done), 'the device\'s first cycle')
    const held = new Set(device.frames.flatMap(f => f.type === DeviceMessage.sync ? [f.record] : []))
    expect(held.has('account/acc0004')).toBe(true)
    const doc = new Y.Doc()
    const ws = new WebSocket(`${s.wsUrl}/account/acc0004?token=${await s.token('alice')}`)
    cleanups.push(() => ws.terminate())
    ws.on('error', () => {})
    const closed = new Promise<number>(resolve => ws.on('close', code => resolve(code)))
    await new Promise(resolve => ws.on('open', resolve))
    const bob = provider(s.wsUrl, 'account/acc0004', doc, await s.token('bob'))
    cleanups.push(() => bob.destroy())
    await synced(bob)
    expect((await post(`${s.url}/api/admin/users/u-alice`, { disabled: true }, await s.token('avery'), 'PATCH')).status).toBe(200)
    expect(await closed).toBe(CloseCode.readRevoked)
    expect(bob.wsconnected).toBe(true)
    const evicted = (): Set<string> => new Set(device.frames.flatMap(f => f.type === DeviceMessage.evict ? [f.record] : []))
    await until(() => [...held].every(r => evicted().has(r)), 'every record of the device evicted')
    const refused = await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${await s.token('alice')}` } })
    expect(refused.status).toBe(401)
  })
})
