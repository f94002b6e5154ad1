// Calling the sign-in routes in process (hono's `app.request()`), as a client at a given address.

import type { Hono } from 'hono'
import { assembleTestServer, type TestDeps } from './server.ts'

/** A fast scrypt cost for tests that sign in often (the default cost is exercised by the end-to-end test). */
export const FAST_SCRYPT = { PASSWORD_SCRYPT: 'ln=10,r=8,p=1' }

export interface Call {
  readonly body?: unknown
  readonly token?: string
  /** the client's address, as the socket would give it */
  readonly address?: string
  readonly method?: string
  readonly headers?: Record<string, string>
}

export interface Answer { readonly status: number, readonly body: Record<string, unknown>, readonly headers: Headers }

export const request = async (app: Hono, path: string, c: Call = {}): Promise<Answer> => {
  const headers = new Headers(c.headers)
  if (c.token !== undefined) headers.set('authorization', `Bearer ${c.token}`)
  if (c.body !== undefined) headers.set('content-type', 'application/json')
  const init: RequestInit = { method: c.method ?? (c.body === undefined ? 'GET' : 'POST'), headers }
  if (c.body !== undefined) init.body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body)
  // @hono/node-server's getConnInfo reads the socket from the bindings.
  const r = await app.request(path, init, { incoming: { socket: { remoteAddress: c.address ?? '192.0.2.1' } } })
  const text = await r.text()
  return { status: r.status, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown>, headers: r.headers }
}

export interface SignedIn {
  readonly token: string
  readonly refreshToken: string
  readonly expiresAt: string
  readonly sessionExpiresAt: string
  readonly user: { readonly id: string, readonly login: string }
}

/** The JWT's claims (not verified: for looking at what the server issued). */
export const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>

export type Assembled = Awaited<ReturnType<typeof assembleTestServer>>

/** A server (not listening) whose sign-in clock the test moves. */
export const clockedServer = async (env: Record<string, string>, deps: TestDeps = {}): Promise<{ s: Assembled, app: Hono, advance: (ms: number) => void, now: () => number }> => {
  let now = Date.now()
  const s = await assembleTestServer({ ...FAST_SCRYPT, ...env }, undefined, { clock: () => now, ...deps })
  return { s, app: s.server.app, advance: ms => { now += ms }, now: () => now }
}

/** Sets `userId`'s password as the administrator avery. */
export const setPassword = async (app: Hono, adminToken: string, userId: string, password: string): Promise<Answer> =>
  request(app, `/api/admin/users/${userId}/password`, { method: 'PUT', token: adminToken, body: { password } })
