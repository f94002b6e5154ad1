// A signed-in user on a device: signs in with a password (POST /auth/login), keeps the token and the
// refresh token, hands the device SDK a TokenSource that renews through POST /auth/refresh shortly before
// the token expires and whenever the server refused it, keeps handing out the token it has while the
// server cannot be reached (offline work goes on; renewal is tried again at the next ask), and signs out
// (POST /auth/logout when reachable, then the device's local store is destroyed). A session can also hold an
// identity provider's token, which is not renewed here: it is handed out until the server refuses it, and
// then the session ends.

import { ObservableV2 } from 'lib0/observable'
import { ErrorCode, FieldError, FieldsyncError } from '../errors.ts'
import type { LocalStore } from './store.ts'
import type { TokenRequest } from './token.ts'

/** What the server answers a sign-in or a renewal with; keep it (e.g. in localStorage) to resume after a reload. */
export interface SessionState {
  readonly token: string
  /** absent for an identity provider's token (SignInSession.fromProviderToken), which is not renewed here */
  readonly refreshToken?: string
  /** ISO time the token expires */
  readonly expiresAt: string
  /** ISO time the sign-in ends (no renewal after it) */
  readonly sessionExpiresAt: string
  readonly user: { readonly id: string, readonly login: string, readonly fullName?: string }
}

export interface SignInOptions {
  /** the server's base URL: `http(s)://host:port` */
  readonly url: string
  /** renew when the token has less than this left (default 60 s; at most half its lifetime) */
  readonly renewBeforeMs?: number
  readonly fetch?: typeof fetch
  /** ms since the epoch (tests move it) */
  readonly clock?: () => number
}

export interface SessionEvents {
  /** a renewal or sign-in gave a new state: keep it */
  session: (state: SessionState) => void
  /** the server ended the sign-in (revoked, expired, signed out elsewhere): sign in again */
  ended: (error: SignInFailed) => void
}

/** The server refused a sign-in or a renewal: `status` 401 (wrong login or password, sign-in ended) or 429
 * (too many failed sign-ins; `retryAfterSeconds`), or another status it answered with. */
export class SignInFailed extends FieldsyncError {
  override name = 'SignInFailed'
  readonly status: number
  readonly retryAfterSeconds: number | undefined
  constructor (status: number, message: string, retryAfterSeconds?: number) {
    super(ErrorCode.signInFailed, message)
    this.status = status
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** A device (FieldsyncDevice) to close before its store is deleted. */
export interface ClosableDevice { readonly store: LocalStore, close (): Promise<void> }

const DEFAULT_RENEW_BEFORE_MS = 60_000

/** Whether `v` (a state kept in localStorage, say) has a SessionState's shape, to resume with. */
export const isSessionState = (v: unknown): v is SessionState => {
  const s = v as Partial<SessionState> | null
  return typeof s === 'object' && s !== null && typeof s.token === 'string' && ['string', 'undefined'].includes(typeof s.refreshToken) &&
    typeof s.expiresAt === 'string' && typeof s.sessionExpiresAt === 'string' && typeof s.user?.id === 'string' && typeof s.user.login === 'string'
}

/** A sign-in or renewal answer of the server: a state with its refresh token. */
const isIssued = (v: unknown): v is SessionState & { readonly refreshToken: string } =>
  isSessionState(v) && typeof v.refreshToken === 'string'

/** The claims of a JWT, read and not verified (the server verifies it); null when it is not one. */
const claimsOf = (token: string): Record<string, unknown> | null => {
  try {
    const claims: unknown = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/')))
    return typeof claims === 'object' && claims !== null ? claims as Record<string, unknown> : null
  } catch {
    return null
  }
}

/** How long an identity provider's token without `exp` is taken to last. */
const PROVIDER_TOKEN_DEFAULT_MS = 600_000

/** POSTs JSON; null when the server cannot be reached. */
const post = async (opts: SignInOptions, path: string, body: unknown): Promise<{ status: number, body: unknown, headers: Headers } | null> => {
  let r: Response
  try {
    r = await (opts.fetch ?? fetch)(new URL(path, opts.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  } catch {
    return null
  }
  const text = await r.text()
  let parsed: unknown = null
  try { parsed = text === '' ? null : JSON.parse(text) } catch { parsed = null }
  return { status: r.status, body: parsed, headers: r.headers }
}

const failure = (r: { status: number, body: unknown, headers: Headers }): SignInFailed => {
  const error = (r.body as { error?: unknown } | null)?.error
  const retry = Number(r.headers.get('retry-after'))
  return new SignInFailed(r.status, typeof error === 'string' ? error : `the server answered ${r.status}`, r.status === 429 && retry > 0 ? retry : undefined)
}

/** The error a session ends with when the server refuses an identity provider's token (it is not renewed here). */
export const PROVIDER_TOKEN_REFUSED = 'the identity provider\'s token was refused (it is renewed there, not here)'

export class SignInSession extends ObservableV2<SessionEvents> {
  private current: SessionState
  private renewing: Promise<void> | null = null
  private endedWith: SignInFailed | null = null
  private stopBackground: (() => void) | null = null
  private readonly opts: SignInOptions

  private constructor (opts: SignInOptions, state: SessionState) {
    super()
    this.opts = opts
    this.current = state
  }

  /** Signs in with a password. Throws SignInFailed when the server refuses, a TypeError when it cannot
   * be reached (a first sign-in needs the server). */
  static async signIn (opts: SignInOptions, login: string, password: string): Promise<SignInSession> {
    const r = await post(opts, '/auth/login', { login, password })
    if (r === null) throw new TypeError(`cannot reach ${opts.url} to sign in`)
    if (r.status !== 200 || !isIssued(r.body)) throw failure(r)
    return new SignInSession(opts, r.body)
  }

  /** Demo mode only: signs in as the demo user `login` without a password (POST /auth/dev-login; a server
   * outside demo mode answers 404, as for an unknown user). */
  static async signInDemo (opts: SignInOptions, login: string): Promise<SignInSession> {
    const r = await post(opts, '/auth/dev-login', { user: login })
    if (r === null) throw new TypeError(`cannot reach ${opts.url} to sign in`)
    if (r.status !== 200 || !isIssued(r.body)) throw failure(r)
    return new SignInSession(opts, r.body)
  }

  /**
   * A session with an identity provider's token (its sign-in hands it back, e.g. in the URL fragment); the
   * server checks it at first use, nothing is asked here. It cannot be renewed here (`renewable` false,
   * `renew()` resolves false): it is handed out (offline too) until the server refuses it, and then the
   * session ends (`ended`, SignInFailed 401). The state is read from its claims, not verified: `expiresAt`
   * from `exp`, `user` as `{id: 'external:<sub>', login: preferred_username or sub, fullName: name}`.
   * Throws FieldError (`invalid-field`) for a token that is not a JWT or names no `sub`.
   */
  static fromProviderToken (opts: SignInOptions, token: string): SignInSession {
    const c = claimsOf(token)
    if (c === null) throw new FieldError('token', 'expected the identity provider\'s token (a JWT)')
    if (typeof c.sub !== 'string' || c.sub === '') throw new FieldError('token', 'the identity provider\'s token names no subject (sub)')
    const login = typeof c.preferred_username === 'string' && c.preferred_username !== '' ? c.preferred_username : c.sub
    const now = (opts.clock ?? Date.now)()
    const expiresAt = new Date(typeof c.exp === 'number' ? c.exp * 1000 : now + PROVIDER_TOKEN_DEFAULT_MS).toISOString()
    return new SignInSession(opts, {
      token, expiresAt, sessionExpiresAt: expiresAt,
      user: { id: `external:${c.sub}`, login, fullName: typeof c.name === 'string' && c.name !== '' ? c.name : login }
    })
  }

  /** A session kept from before (a reload, perhaps offline): works with its token, renews when it can. */
  static resume (opts: SignInOptions, state: SessionState): SignInSession {
    return new SignInSession(opts, state)
  }

  get state (): SessionState { return this.current }
  get user (): SessionState['user'] { return this.current.user }
  /** the server ended this sign-in (renewal or token refused, or signed out): the app should sign in again */
  get ended (): boolean { return this.endedWith !== null }
  /** false for an identity provider's token: there is no refresh token to renew it with here */
  get renewable (): boolean { return this.current.refreshToken !== undefined }

  private now (): number { return (this.opts.clock ?? Date.now)() }

  /** Whether the token is near its expiry (or past it). */
  private due (): boolean {
    const expires = Date.parse(this.current.expiresAt)
    const before = Math.min(this.opts.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS, Math.max(0, (expires - this.issuedAt()) / 2))
    return this.now() >= expires - before
  }

  /** When the token was issued (its `iat`), to bound the renewal margin by its lifetime. */
  private issuedAt (): number {
    const iat = claimsOf(this.current.token)?.iat
    return typeof iat === 'number' ? iat * 1000 : 0
  }

  /** Ends the session (once: `ended` is emitted the first time); answers why it ended. */
  private end (why: SignInFailed): SignInFailed {
    if (this.endedWith === null) {
      this.endedWith = why
      this.stopBackground?.()
      this.emit('ended', [why])
    }
    return this.endedWith
  }

  /**
   * Renews the token now through POST /auth/refresh (one renewal at a time). Resolves `true` when renewed,
   * `false` when the server could not be reached or answered 5xx (the token in hand is kept), or when the
   * session cannot be renewed here (`renewable` false); when the server refuses (the sign-in ended) it
   * emits `ended` and throws SignInFailed.
   */
  async renew (): Promise<boolean> {
    if (this.endedWith !== null) throw this.endedWith
    const refreshToken = this.current.refreshToken
    if (refreshToken === undefined) return false
    const before = this.current
    this.renewing ??= (async () => {
      try {
        const r = await post(this.opts, '/auth/refresh', { refreshToken })
        if (r === null || r.status >= 500 || this.endedWith !== null) return // (signed out meanwhile: not kept)
        if (r.status === 200 && isIssued(r.body)) {
          this.current = r.body
          this.emit('session', [r.body])
          return
        }
        this.end(failure(r))
      } finally {
        this.renewing = null
      }
    })()
    await this.renewing
    if (this.endedWith !== null) throw this.endedWith
    return this.current !== before
  }

  /** The TokenSource to give FieldsyncDevice (`token: session.token`). An identity provider's token the
   * server refused ends the session (it throws SignInFailed); near its expiry it is handed out as it is. */
  readonly token = async (request: TokenRequest): Promise<string> => {
    if (this.renewable) {
      if (request.refused || this.due()) await this.renew()
    } else if (request.refused || this.endedWith !== null) throw this.end(new SignInFailed(401, PROVIDER_TOKEN_REFUSED))
    return this.current.token
  }

  /**
   * Renews in the background while the app runs, so the token in hand is fresh before the device asks:
   * every `checkEveryMs` (default a sixth of the token's lifetime, from 1 s to 30 s) it renews when the
   * token is due. An unreachable server is tried again at the next check; a refused renewal emits `ended`.
   * Stops when the session ends or signs out, or when the returned function is called (a second call
   * replaces the first). Nothing to do for a session that cannot be renewed.
   */
  renewInBackground (checkEveryMs?: number): () => void {
    this.stopBackground?.()
    let timer: ReturnType<typeof setTimeout> | undefined
    let stopped = false
    const stop = (): void => {
      stopped = true
      clearTimeout(timer)
      if (this.stopBackground === stop) this.stopBackground = null
    }
    const next = (): void => {
      if (stopped || this.endedWith !== null || !this.renewable) return
      const lifetime = Date.parse(this.current.expiresAt) - this.issuedAt()
      timer = setTimeout(tick, checkEveryMs ?? Math.min(30_000, Math.max(1_000, lifetime / 6)))
      ;(timer as { unref?: () => void }).unref?.() // (Node: a check alone keeps no process alive)
    }
    const tick = (): void => {
      if (stopped) return
      void (this.due() ? this.renew().catch(() => false) : Promise.resolve(false)).then(next)
    }
    this.stopBackground = stop
    next()
    return stop
  }

  /**
   * Signs out: ends the sign-in on the server when it can be reached (an unreachable server lets the
   * sign-in run out by itself; an identity provider's token has no sign-in of this server to end), then
   * deletes the device's data: given the device, closes it and destroys its store; given a store (its
   * device closed), destroys it.
   */
  async signOut (data?: LocalStore | ClosableDevice): Promise<{ serverSignedOut: boolean }> {
    this.stopBackground?.()
    this.endedWith ??= new SignInFailed(401, 'signed out') // (a renewal under way is not kept)
    const refreshToken = this.current.refreshToken
    const r = refreshToken === undefined ? null : await post(this.opts, '/auth/logout', { refreshToken })
    if (data !== undefined && 'store' in data) { // (a device: it has a destroy() too, its events')
      await data.close()
      await data.store.destroy()
    } else if (data !== undefined) await data.destroy()
    return { serverSignedOut: r?.status === 200 }
  }
}
