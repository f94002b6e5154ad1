// The sign-in routes: POST /auth/login (password), /auth/refresh (renewal), /auth/logout, and in demo
// mode /auth/dev-login. Bodies are parsed with valibot (400 names the field); a refused sign-in is 401
// with one answer whatever was wrong, a limited one 429 with Retry-After.

import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { bodyLimit } from 'hono/body-limit'
import { getConnInfo } from '@hono/node-server/conninfo'
import * as v from 'valibot'
import { FieldError } from '../errors.ts'
import { parseFields } from '../schema.ts'
import type { Security } from './security.ts'
import { tokenOf } from './auth.ts'
import type { Authenticator, Renewed } from './authenticator.ts'

const STRING = (what: string, max: number) => v.pipe(v.string(`expected ${what}`), v.minLength(1, `expected ${what}`), v.maxLength(max, `longer than ${max} characters`))
const OBJECT = 'expected a JSON object'

export const LoginSchema = v.object({ login: STRING('a login', 200), password: STRING('a password', 1024) }, OBJECT)
const RefreshSchema = v.object({ refreshToken: STRING('a refresh token', 200) }, OBJECT)

/** The answer to a refused sign-in: the same for an unknown login, a wrong password, no password, a disabled user. */
export const SIGN_IN_REFUSED = 'wrong login or password'

const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> =>
  parseFields(schema, body, (field, message) => new FieldError(field, message), 'body')

const jsonBody = async (c: Context): Promise<unknown> => {
  try { return await c.req.json() } catch { throw new HTTPException(400, { message: 'body: expected JSON' }) }
}

/** A body, or undefined when the request has none. */
const optionalBody = async (c: Context): Promise<unknown> => {
  const text = await c.req.text()
  if (text.trim() === '') return undefined
  try { return JSON.parse(text) } catch { throw new HTTPException(400, { message: 'body: expected JSON' }) }
}

/** Expands an IPv6 address to its eight groups, or null when it is not one. */
const ipv6Groups = (a: string): string[] | null => {
  const [head, tail, ...more] = a.split('::')
  if (more.length > 0) return null
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.length === 8 && groups.every(g => /^[0-9a-f]{1,4}$/i.test(g)) ? groups : null
}

/** The key a client address is limited under: an IPv4 address, or an IPv6 address's /64 (one subscriber's
 * block: limiting single IPv6 addresses would give an attacker 2^64 fresh ones). */
export const addressKey = (address: string): string => {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1]
  const groups = address.includes(':') ? ipv6Groups(address.replace(/%.*$/, '')) : null
  return groups === null ? address : `${groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':')}::/64`
}

/** The client's address: the socket's peer, or behind a trusted proxy the last X-Forwarded-For entry (the one the proxy added). */
const clientAddress = (c: Context, trustProxy: boolean): string => {
  if (trustProxy) {
    const last = c.req.header('x-forwarded-for')?.split(',').map(s => s.trim()).filter(s => s !== '').at(-1)
    if (last !== undefined) return addressKey(last)
  }
  try {
    return addressKey(getConnInfo(c).remote.address ?? 'unknown')
  } catch {
    return 'unknown' // called in process (app.request) with no socket
  }
}

export interface AuthRouteOptions {
  readonly demo: boolean
  readonly trustProxy: boolean
}

export const authRoutes = (auth: Authenticator, security: Security, opts: AuthRouteOptions): Hono => {
  const app = new Hono()
  app.use('*', bodyLimit({ maxSize: 16 * 1024, onError: c => c.json({ error: 'body larger than 16 KiB' }, 413) }))
  const answerRenewal = (c: Context, r: Renewed): Response => r.ok ? c.json(r.issued) : c.json({ error: r.message }, r.status)

  app.post('/login', async c => {
    const { login, password } = parse(LoginSchema, await jsonBody(c))
    const outcome = await auth.signIn(login, password, clientAddress(c, opts.trustProxy))
    switch (outcome.kind) {
      case 'signed-in': return c.json(outcome.issued)
      case 'refused': return c.json({ error: SIGN_IN_REFUSED }, 401)
      case 'limited': return c.json({ error: `too many failed sign-ins: try again in ${outcome.retryAfterSeconds} s` }, 429, { 'retry-after': String(outcome.retryAfterSeconds) })
    }
  })

  // With {refreshToken}: a new token and refresh token. With a valid token of this server: a new token of the same sign-in.
  app.post('/refresh', async c => {
    const body = await optionalBody(c)
    if (body !== undefined) return answerRenewal(c, await auth.renewSession(parse(RefreshSchema, body).refreshToken))
    const token = tokenOf(c.req.header('authorization'), undefined)
    if (token === undefined) throw new HTTPException(400, { message: 'send {"refreshToken": "..."} or Authorization: Bearer <token>' })
    const a = await auth.authenticate(token)
    if (!a.ok) return c.json({ error: a.message }, a.status)
    return answerRenewal(c, await auth.renewToken(a.principal, token))
  })

  // Ends the sign-in named by {refreshToken} (spent or not) or by a valid token of this server.
  app.post('/logout', async c => {
    const body = await optionalBody(c)
    let session: string | undefined
    if (body !== undefined) session = auth.sessions.sessionOf(parse(RefreshSchema, body).refreshToken)
    else {
      const token = tokenOf(c.req.header('authorization'), undefined)
      const a = token === undefined ? undefined : await auth.authenticate(token)
      session = a?.ok === true ? a.principal.session : undefined
    }
    if (session === undefined) return c.json({ error: 'no sign-in of this server to end' }, 401)
    auth.signOut(session)
    return c.json({ signedOut: true })
  })

  if (opts.demo) {
    // The app's sign-in screen offers these (demo mode only: outside it who may sign in is not public).
    app.get('/demo-users', c => c.json({ users: security.model.org.users.filter(u => u.disabled !== true).map(u => ({ login: u.login, name: u.fullName })) }))
    app.post('/dev-login', async c => {
      const body = await c.req.json().catch(() => null) as { user?: unknown } | null
      if (body === null || typeof body.user !== 'string') throw new HTTPException(400, { message: 'body must be {"user": "<login>"}' })
      const user = security.index.userByLogin(body.user)
      if (user === undefined) throw new HTTPException(404, { message: `no demo user ${JSON.stringify(body.user)}` })
      return c.json(await auth.issue(user))
    })
  }
  return app
}
