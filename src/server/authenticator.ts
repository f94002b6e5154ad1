// Who a request is: tokens (the server's own and the identity provider's), sign-in with a password
// (limited per login and per client address), renewal, sign-out and revocation. The HTTP side is
// auth-routes.ts; passwords, sessions and the provider's keys each have their own module.

import { randomBytes } from 'node:crypto'
import { decodeProtectedHeader } from 'jose'
import type { User } from '../authz/org.ts'
import type { Security } from './security.ts'
import type { ServerConfig } from './config.ts'
import { issueToken, readOwnToken, type Authentication, type Principal } from './auth.ts'
import { hashPassword, needsRehash, verifyPassword } from './passwords.ts'
import { TokenBuckets, type Buckets } from './rate-limit.ts'
import { Sessions } from './sessions.ts'
import { externalVerifier, type ExternalVerifier } from './oidc.ts'

/** In demo mode, every user without a password of their own signs in with this one (README, "Sign-in"). */
export const DEMO_PASSWORD = 'demo'

/** Failed sign-ins: per login a burst of 10, then one per minute; per client address 30, then one per 10 s. */
export const SIGN_IN_LIMITS = {
  perLogin: { burst: 10, refillMs: 60_000 },
  perAddress: { burst: 30, refillMs: 10_000 },
  /** keys remembered by each limiter (about 100 bytes each; drained ones up to HARD_KEYS_FACTOR times as many) */
  maxKeys: 10_000
} as const

export type AuthConfig = Pick<ServerConfig, 'demo' | 'tokenTtlSeconds' | 'sessionTtlSeconds' | 'passwordScrypt' | 'oidc'>

/** A new token, and (for a sign-in or a renewal by refresh token) the refresh token that renews it. */
export interface Issued {
  readonly token: string
  readonly user: User
  /** ISO time the token expires */
  readonly expiresAt: string
  readonly refreshToken?: string
  /** ISO time the sign-in ends (no renewal after it) */
  readonly sessionExpiresAt: string
}

export type SignInOutcome =
  | { readonly kind: 'signed-in', readonly issued: Issued }
  | { readonly kind: 'refused' }
  | { readonly kind: 'limited', readonly retryAfterSeconds: number }

export type Renewed = { readonly ok: true, readonly issued: Issued } | { readonly ok: false, readonly status: 400 | 401, readonly message: string }

/** A verified token, before the checks made on every use (user still there and enabled, not revoked). */
type Verified = Principal & { readonly generation: number, readonly identity: string | undefined }

type Refusal = Extract<Authentication, { ok: false }>

const VERIFIED_MAX = 10_000
const INVALID: Refusal = { ok: false, status: 401, message: 'invalid token' }

export interface AuthenticatorOptions {
  readonly security: Security
  readonly secret: string
  readonly config: AuthConfig
  /** ms since the epoch (injected by tests) */
  readonly clock?: () => number
  /** the identity provider's verifier; by default built from config.oidc */
  readonly external?: ExternalVerifier
}

/** How long tokens may renew themselves (POST /auth/refresh with Authorization: Bearer), from the first
 * token of the chain: an hour, after which the refresh token renews (README, "Sign-in"). */
export const BEARER_RENEWAL_MS = 3600_000

export class Authenticator {
  private readonly security: Security
  private readonly secret: string
  private readonly config: AuthConfig
  private readonly clock: () => number
  private readonly external: ExternalVerifier | undefined
  readonly sessions: Sessions
  readonly byLogin: Buckets
  readonly byAddress: Buckets
  /** Tokens already verified, until they expire: a reconnecting client is not verified again (signature
   * checks on every upgrade were the largest cost of a socket that is opened and closed). */
  private readonly verified = new Map<string, Verified>()
  private dummyHash: Promise<string> | undefined
  private demoHash: Promise<string> | undefined
  /** told when sign-ins of a user may have ended: that user's open sockets check their tokens (`here`:
   * ended through this instance, not heard of from another) */
  private readonly endedListeners = new Set<(userId: string, here: boolean) => void>()

  constructor (opts: AuthenticatorOptions) {
    this.security = opts.security
    this.secret = opts.secret
    this.config = opts.config
    this.clock = opts.clock ?? Date.now
    this.external = opts.external ?? (opts.config.oidc === undefined ? undefined : externalVerifier(opts.config.oidc, this.clock))
    this.sessions = new Sessions(opts.security.credentials, opts.secret, this.clock, opts.config.sessionTtlSeconds)
    // Shared by every instance on the store when it has several (PostgreSQL), else kept here.
    const limits = { maxKeys: SIGN_IN_LIMITS.maxKeys, now: this.clock }
    const credentials = opts.security.credentials
    this.byLogin = credentials.sharedBuckets?.('login', { ...SIGN_IN_LIMITS.perLogin, now: this.clock }) ?? new TokenBuckets({ ...SIGN_IN_LIMITS.perLogin, ...limits })
    this.byAddress = credentials.sharedBuckets?.('address', { ...SIGN_IN_LIMITS.perAddress, now: this.clock }) ?? new TokenBuckets({ ...SIGN_IN_LIMITS.perAddress, ...limits })
  }

  /** The principal of `token` (the server's or the identity provider's), checked against the current model. */
  async authenticate (token: string): Promise<Authentication> {
    let v = this.verified.get(token)
    if (v !== undefined && v.expiresAt !== undefined && v.expiresAt <= this.clock()) { this.verified.delete(token); v = undefined }
    if (v === undefined) {
      const r = await this.verify(token)
      if (!r.ok) return r
      v = r.verified
      if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!)
      this.verified.set(token, v)
    }
    return this.stillValid(v) ? { ok: true, principal: principalOf(v) } : INVALID
  }

  private async verify (token: string): Promise<{ ok: true, verified: Verified } | Refusal> {
    let alg: unknown
    try { alg = decodeProtectedHeader(token).alg } catch { return INVALID }
    // The server signs HS256 only and the identity provider signs RS256/ES256 only; each is verified with its own key and algorithms alone.
    if (alg === 'HS256') {
      const own = await readOwnToken(this.secret, token, this.clock())
      if (own === null) return INVALID
      return { ok: true, verified: { userId: own.userId, login: own.login, expiresAt: own.expiresAt, issuer: 'fieldsync', session: own.session, generation: own.generation, identity: undefined } }
    }
    if (this.external === undefined) return INVALID
    const ext = await this.external(token)
    if (!ext.ok) return ext.unavailable ? { ok: false, status: 503, message: 'the identity provider\'s keys could not be fetched; try again' } : INVALID
    const user = this.security.index.userByExternalId(ext.identity)
    if (user === undefined) return { ok: false, status: 401, message: 'no user is linked to this identity' }
    return { ok: true, verified: { userId: user.id, login: user.login, expiresAt: ext.expiresAt, issuer: 'external', session: undefined, generation: 0, identity: ext.identity } }
  }

  /** Checked on every use, cached or not: the user exists and is enabled, the token's generation is the
   * user's, its sign-in has not ended, and an external identity still links to the same user. */
  private stillValid (v: Verified): boolean {
    const user = this.security.index.user(v.userId)
    if (user === undefined || user.disabled === true) return false
    if (v.identity !== undefined) return this.security.index.userByExternalId(v.identity)?.id === v.userId
    if (v.generation !== this.security.credentials.tokenGeneration(v.userId)) return false
    return v.session === undefined || this.sessions.live(v.session) !== undefined
  }

  /** Whether `token` (one that was taken before) is still taken, answered now from the tokens already
   * verified (a socket's token was verified when it opened); undefined when it is not among them. */
  stillTaken (token: string): boolean | undefined {
    const v = this.verified.get(token)
    if (v === undefined) return undefined
    return (v.expiresAt === undefined || v.expiresAt > this.clock()) && this.stillValid(v)
  }

  /** `l` is told (synchronously) when sign-ins of a user may have ended (revoked, signed out, a reused
   * refresh token, the oldest past the limit): sockets opened with their tokens must close. */
  onSignInsEnded (l: (userId: string, here: boolean) => void): () => void {
    this.endedListeners.add(l)
    return () => this.endedListeners.delete(l)
  }

  /** Another instance ended sign-ins of `userId` (heard over the fan-out): this one's sockets check theirs. */
  endedElsewhere (userId: string): void {
    for (const l of this.endedListeners) l(userId, false)
  }

  /** With several instances: the users whose sign-ins ended after `after` on any instance (storage keeps
   * the notes, so a lost fan-out message loses nothing); undefined with one process. */
  signInsEndedSince (after: number | null): { readonly position: number, readonly users: readonly string[] } | undefined {
    return this.security.credentials.signInsEndedSince?.(after)
  }

  private ended (userId: string): void {
    this.security.credentials.noteSignInsEnded?.(userId)
    for (const l of this.endedListeners) l(userId, true)
  }

  /** Signs `user` in: a new session, its first token and refresh token (dev-login, password sign-in, the printed admin token). */
  async issue (user: User): Promise<Issued> {
    const { session, refreshToken, ended } = this.sessions.start(user.id)
    // (Only when it ended one: every instance then checks the user's sockets, and storage notes it.)
    if (ended > 0) this.ended(user.id) // the user's oldest sign-in ends past MAX_SESSIONS_PER_USER
    return { ...await this.tokenFor(user, session.id, session.expiresAt), refreshToken }
  }

  /** `renewedFrom`: when the first token of a bearer-renewal chain was issued (ms), for a token renewed with itself. */
  private async tokenFor (user: User, session: string, sessionExpiresAt: number, renewedFrom?: number): Promise<Issued> {
    const now = this.clock()
    // A token never outlives its sign-in.
    const ttl = Math.max(1, Math.min(this.config.tokenTtlSeconds, Math.floor((sessionExpiresAt - now) / 1000)))
    const token = await issueToken(this.secret, user, ttl, now, { session, generation: this.security.credentials.tokenGeneration(user.id), renewedFrom: renewedFrom === undefined ? undefined : Math.floor(renewedFrom / 1000) })
    return { token, user, expiresAt: new Date((Math.floor(now / 1000) + ttl) * 1000).toISOString(), sessionExpiresAt: new Date(sessionExpiresAt).toISOString() }
  }

  /** A password sign-in from `address`. The same answer for an unknown login, a wrong password, a user
   * without a password and a disabled user, after the same work (a hash is checked in every case). */
  async signIn (login: string, password: string, address: string): Promise<SignInOutcome> {
    const loginKey = login.trim().toLowerCase()
    const addressKey = `a:${address}`
    // Charged before the password is checked, so that parallel attempts cannot outrun the count.
    if (!this.byAddress.take(addressKey)) return { kind: 'limited', retryAfterSeconds: Math.ceil(this.byAddress.waitMs(addressKey) / 1000) }
    if (!this.byLogin.take(loginKey)) {
      this.byAddress.refund(addressKey)
      return { kind: 'limited', retryAfterSeconds: Math.ceil(this.byLogin.waitMs(loginKey) / 1000) }
    }
    const known = this.security.index.userByLogin(loginKey)
    const own = known === undefined ? undefined : this.security.credentials.passwordHash(known.id)
    const stored = own ?? (known !== undefined && this.config.demo ? await this.demo() : undefined)
    const matches = await verifyPassword(stored ?? await this.dummy(), password)
    // Read again after the hash: the user may have been disabled meanwhile.
    const user = this.security.index.userByLogin(loginKey)
    if (!matches || stored === undefined || user === undefined || user.id !== known?.id || user.disabled === true) return { kind: 'refused' }
    this.byLogin.reset(loginKey)
    this.byAddress.refund(addressKey)
    if (own !== undefined && needsRehash(own, this.config.passwordScrypt)) this.security.credentials.setPasswordHash(user.id, await hashPassword(password, this.config.passwordScrypt))
    return { kind: 'signed-in', issued: await this.issue(user) }
  }

  /** A new token for the session of a valid token of this server (`POST /auth/refresh` with a bearer token). */
  async renewToken (p: Principal, token: string): Promise<Renewed> {
    if (p.issuer === 'external') return { ok: false, status: 400, message: 'tokens of the identity provider are renewed with the identity provider' }
    const session = p.session === undefined ? undefined : this.sessions.live(p.session)
    const user = this.security.index.user(p.userId)
    if (session === undefined || user === undefined) return { ok: false, status: 401, message: 'this token has no sign-in to renew: sign in again' }
    // A token that leaked (websocket URLs are logged) must not be renewable for the whole sign-in: tokens
    // renew themselves for BEARER_RENEWAL_MS from the first of their chain, then only the refresh token does.
    const own = await readOwnToken(this.secret, token, this.clock())
    if (own === null) return { ok: false, status: 401, message: 'this token cannot be renewed: sign in again' }
    if (this.clock() - own.chainStart > BEARER_RENEWAL_MS) return { ok: false, status: 401, message: 'a token renews itself for an hour at most: renew with the refresh token, or sign in again' }
    return { ok: true, issued: await this.tokenFor(user, session.id, session.expiresAt, own.chainStart) }
  }

  /** A new token and refresh token for a refresh token (`POST /auth/refresh` with `{refreshToken}`). */
  async renewSession (refreshToken: string): Promise<Renewed> {
    const r = this.sessions.renew(refreshToken)
    if (!r.ok) {
      if (r.ended !== undefined) this.ended(r.ended) // a reused refresh token ended its sign-in
      return { ok: false, status: 401, message: r.why }
    }
    const user = this.security.index.user(r.session.userId)
    if (user === undefined || user.disabled === true) return { ok: false, status: 401, message: 'the sign-in ended: sign in again' }
    return { ok: true, issued: { ...await this.tokenFor(user, r.session.id, r.session.expiresAt), refreshToken: r.refreshToken } }
  }

  /** Ends a sign-in: its refresh token and every token of it stop working. */
  signOut (session: string): void {
    const userId = this.sessions.live(session)?.userId
    this.sessions.end(session)
    if (userId !== undefined) this.ended(userId)
  }

  /** Sets (or replaces) a user's password. */
  async setPassword (userId: string, password: string): Promise<void> {
    this.security.credentials.setPasswordHash(userId, await hashPassword(password, this.config.passwordScrypt))
  }

  /** Every token of the user issued so far stops working, and every sign-in of theirs ends. */
  revokeTokens (userId: string): void {
    this.security.credentials.revokeTokens(userId)
    this.ended(userId)
  }

  private dummy (): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString('base64'), this.config.passwordScrypt)
    return this.dummyHash
  }

  private demo (): Promise<string> {
    this.demoHash ??= hashPassword(DEMO_PASSWORD, this.config.passwordScrypt)
    return this.demoHash
  }
}

const principalOf = (v: Verified): Principal => ({ userId: v.userId, login: v.login, expiresAt: v.expiresAt, issuer: v.issuer, session: v.session })
