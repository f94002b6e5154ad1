// The server's own tokens (HS256 JWTs) and the middleware that requires a token — the server's own or the
// identity provider's, src/server/authenticator.ts decides — before any record route or upgrade.

import { createMiddleware } from 'hono/factory'
import { HTTPException } from 'hono/http-exception'
import { jwtVerify, SignJWT } from 'jose'
import type { User } from '../authz/org.ts'
import type {} from 'hono'

export interface Principal {
  readonly userId: string
  readonly login: string
  /** when the token expires (ms since the epoch); sockets opened with it close then */
  readonly expiresAt: number | undefined
  /** who issued the token: this server, or the external identity provider (OIDC_ISSUER) */
  readonly issuer: 'fieldsync' | 'external'
  /** the sign-in session a token of this server belongs to (POST /auth/refresh renews it) */
  readonly session: string | undefined
}

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal
  }
}

/** What a token of this server says, beyond who and until when. */
export interface TokenExtras {
  /** the sign-in session it belongs to; tokens without one cannot be renewed */
  readonly session?: string
  /** the user's token generation when it was issued (0 when absent): a revocation bumps it */
  readonly generation?: number
  /** when the token it renews with itself was first issued (seconds): bearer renewals chain from there */
  readonly renewedFrom?: number
}

/** A token of this server, verified. */
export interface OwnToken {
  readonly userId: string
  readonly login: string
  readonly expiresAt: number
  readonly session: string | undefined
  readonly generation: number
  /** when the first token of its chain of bearer renewals was issued (ms; its own issue time if none) */
  readonly chainStart: number
}

/** The HMAC key of a secret, imported once: importing it on every verification cost more than the
 * verification itself (a morning's devices present their tokens together). */
const keys = new Map<string, Promise<CryptoKey>>()
const keyOf = (secret: string): Promise<CryptoKey> => {
  let key = keys.get(secret)
  if (key === undefined) {
    key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    keys.set(secret, key)
  }
  return key
}

/** A token for `user`, valid `ttlSeconds` from `now`. */
export const issueToken = async (secret: string, user: User, ttlSeconds: number, now = Date.now(), extras: TokenExtras = {}): Promise<string> => {
  const iat = Math.floor(now / 1000)
  const claims: Record<string, unknown> = { login: user.login }
  if (extras.session !== undefined) claims.sid = extras.session
  if (extras.generation !== undefined && extras.generation !== 0) claims.gen = extras.generation
  if (extras.renewedFrom !== undefined) claims.ren = extras.renewedFrom
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(user.id).setIssuedAt(iat).setExpirationTime(iat + ttlSeconds).sign(await keyOf(secret))
}

/** The claims of a token this server signed, or null when it is not one, is altered or has expired at `now`. */
export const readOwnToken = async (secret: string, token: string, now: number): Promise<OwnToken | null> => {
  try {
    // HS256 only: a token naming another algorithm (none, or RS256 with a public key as the secret) is refused.
    const { payload: p } = await jwtVerify(token, await keyOf(secret), { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'], currentDate: new Date(now) })
    const gen = p.gen ?? 0
    if (typeof p.sub !== 'string' || typeof p.login !== 'string' || typeof p.exp !== 'number') return null
    if ((p.sid !== undefined && typeof p.sid !== 'string') || typeof gen !== 'number') return null
    const start = p.ren ?? p.iat
    if (typeof start !== 'number') return null
    return { userId: p.sub, login: p.login, expiresAt: p.exp * 1000, session: p.sid, generation: gen, chainStart: start * 1000 }
  } catch {
    return null
  }
}

/** Why a token was not taken: 401, or 503 when the identity provider's keys could not be fetched. */
export type Authentication = { readonly ok: true, readonly principal: Principal } | { readonly ok: false, readonly status: 401 | 503, readonly message: string }

export const tokenOf = (authorization: string | undefined, query: string | undefined): string | undefined => {
  if (authorization?.startsWith('Bearer ') === true) return authorization.slice(7)
  return query
}

/**
 * 401 (503) unless the request carries a token that `authenticate` takes: `Authorization: Bearer`, or
 * with `fromQuery` (websocket upgrades: a browser's WebSocket cannot set headers, y-websocket sends
 * `params`) also `?token=`. HTTP routes take the header alone: a token in a URL ends up in access logs,
 * proxies and browser history.
 */
export const requireToken = (authenticate: (token: string) => Promise<Authentication>, o: { readonly fromQuery: boolean }) =>
  createMiddleware(async function requireTokenMiddleware (c, next) {
    const token = tokenOf(c.req.header('authorization'), o.fromQuery ? c.req.query('token') : undefined)
    if (token === undefined) throw new HTTPException(401, { message: 'missing token' })
    const a = await authenticate(token)
    if (!a.ok) throw new HTTPException(a.status, { message: a.message })
    c.set('principal', a.principal)
    await next()
  })
