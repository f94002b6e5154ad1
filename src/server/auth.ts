// Tokens (HS256 JWT) and the middleware that requires one before any record route or upgrade.

import { createMiddleware } from 'hono/factory'
import { HTTPException } from 'hono/http-exception'
import { sign, verify } from 'hono/jwt'
import type { User } from '../authz/org.ts'
import type {} from 'hono'

export interface Principal {
  readonly userId: string
  readonly login: string
  /** when the token expires (ms since the epoch); sockets opened with it close then */
  readonly expiresAt: number | undefined
}

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal
  }
}

export const issueToken = async (secret: string, user: User, ttlSeconds: number, now = Date.now()): Promise<string> => {
  const iat = Math.floor(now / 1000)
  return sign({ sub: user.id, login: user.login, iat, exp: iat + ttlSeconds }, secret, 'HS256')
}

/** Tokens already verified, until they expire: a reconnecting client is not verified again (HMAC via
 * WebCrypto on every upgrade was the largest cost of a socket that is opened and closed). */
const verified = new Map<string, { secret: string, principal: Principal }>()
const VERIFIED_MAX = 10_000

export const verifyToken = async (secret: string, token: string): Promise<Principal | null> => {
  const hit = verified.get(token)
  if (hit !== undefined && hit.secret === secret && (hit.principal.expiresAt === undefined || hit.principal.expiresAt > Date.now())) return hit.principal
  const principal = await verifyUncached(secret, token)
  if (principal !== null) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!)
    verified.set(token, { secret, principal })
  }
  return principal
}

const verifyUncached = async (secret: string, token: string): Promise<Principal | null> => {
  try {
    const p = await verify(token, secret, 'HS256')
    if (typeof p.sub !== 'string' || typeof p.login !== 'string') return null
    return { userId: p.sub, login: p.login, expiresAt: typeof p.exp === 'number' ? p.exp * 1000 : undefined }
  } catch {
    return null
  }
}

const tokenOf = (authorization: string | undefined, query: string | undefined): string | undefined => {
  if (authorization?.startsWith('Bearer ') === true) return authorization.slice(7)
  return query
}

/** 401 unless the request carries a valid token (`Authorization: Bearer` or `?token=`) of a known user. */
export const requireToken = (secret: string, userExists: (id: string) => boolean) =>
  createMiddleware(async function requireTokenMiddleware (c, next) {
    const token = tokenOf(c.req.header('authorization'), c.req.query('token'))
    if (token === undefined) throw new HTTPException(401, { message: 'missing token' })
    const principal = await verifyToken(secret, token)
    if (principal === null || !userExists(principal.userId)) throw new HTTPException(401, { message: 'invalid token' })
    c.set('principal', principal)
    await next()
  })
