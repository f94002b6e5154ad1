// A signed-in user on a device: signs in with a password (POST /auth/login), keeps the token and the
// refresh token, hands the device SDK a TokenSource that renews through POST /auth/refresh shortly before
// the token expires and whenever the server refused it, keeps handing out the token it has while the
// server cannot be reached (offline work goes on; renewal is tried again at the next ask), and signs out
// (POST /auth/logout when reachable, then the device's local store is destroyed).

import { ObservableV2 } from 'lib0/observable'
import { ErrorCode, FieldsyncError } from '../errors.ts'
import type { LocalStore } from './store.ts'
import type { TokenRequest } from './token.ts'

/** What the server answers a sign-in or a renewal with; keep it (e.g. in localStorage) to resume after a reload. */
export interface SessionState {
  readonly token: string
  readonly refreshToken: string
  /** ISO time the token expires */
  readonly expiresAt: string
  /** ISO time the sign-in ends (no renewal after it) */
  readonly sessionExpiresAt: string
  readonly user: { readonly id: string, readonly login: string, readonly name?: string }
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

const isState = (v: unknown): v is SessionState => {
  const s = v as Partial<SessionState> | null
  return typeof s === 'object' && s !== null && typeof s.token === 'string' && typeof s.refreshToken === 'string' &&
    typeof s.expiresAt === 'string' && typeof s.sessionExpiresAt === 'string' && typeof s.user?.id === 'string'
}

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

export class SignInSession extends ObservableV2<SessionEvents> {
  private current: SessionState
  private renewing: Promise<void> | null = null
  private endedWith: SignInFailed | null = null
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
    if (r.status !== 200 || !isState(r.body)) throw failure(r)
    return new SignInSession(opts, r.body)
  }

  /** Demo mode only: signs in as the demo user `login` without a password (POST /auth/dev-login; a server
   * outside demo mode answers 404, as for an unknown user). */
  static async signInDemo (opts: SignInOptions, login: string): Promise<SignInSession> {
    const r = await post(opts, '/auth/dev-login', { user: login })
    if (r === null) throw new TypeError(`cannot reach ${opts.url} to sign in`)
    if (r.status !== 200 || !isState(r.body)) throw failure(r)
    return new SignInSession(opts, r.body)
  }

  /** A session kept from before (a reload, perhaps offline): works with its token, renews when it can. */
  static resume (opts: SignInOptions, state: SessionState): SignInSession {
    return new SignInSession(opts, state)
  }

  get state (): SessionState { return this.current }
  get user (): SessionState['user'] { return this.current.user }
  /** the server ended this sign-in (renewal refused): the app should sign in again */
  get ended (): boolean { return this.endedWith !== null }

  private now (): number { return (this.opts.clock ?? Date.now)() }

  /** Whether the token is near its expiry (or past it). */
  private due (): boolean {
    const expires = Date.parse(this.current.expiresAt)
    const before = Math.min(this.opts.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS, Math.max(0, (expires - this.issuedAt()) / 2))
    return this.now() >= expires - before
  }

  /** When the token was issued (its `iat`), to bound the renewal margin by its lifetime. */
  private issuedAt (): number {
    try {
      const claims = JSON.parse(atob(this.current.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { iat?: unknown }
      return typeof claims.iat === 'number' ? claims.iat * 1000 : 0
    } catch {
      return 0
    }
  }

  /**
   * Renews the token now through POST /auth/refresh (one renewal at a time). Resolves `true` when renewed,
   * `false` when the server could not be reached or answered 5xx (the token in hand is kept); when the
   * server refuses (the sign-in ended) it emits `ended` and throws SignInFailed.
   */
  async renew (): Promise<boolean> {
    if (this.endedWith !== null) throw this.endedWith
    const before = this.current
    this.renewing ??= (async () => {
      try {
        const r = await post(this.opts, '/auth/refresh', { refreshToken: this.current.refreshToken })
        if (r === null || r.status >= 500) return
        if (r.status === 200 && isState(r.body)) {
          this.current = r.body
          this.emit('session', [r.body])
          return
        }
        this.endedWith = failure(r)
        this.emit('ended', [this.endedWith])
      } finally {
        this.renewing = null
      }
    })()
    await this.renewing
    if (this.endedWith !== null) throw this.endedWith
    return this.current !== before
  }

  /** The TokenSource to give FieldsyncDevice (`token: session.token`). */
  readonly token = async (request: TokenRequest): Promise<string> => {
    if (request.refused || this.due()) await this.renew()
    return this.current.token
  }

  /**
   * Signs out: ends the sign-in on the server when it can be reached (an unreachable server lets the
   * sign-in run out by itself), then deletes the device's data: given the device, closes it and destroys
   * its store; given a store (its device closed), destroys it.
   */
  async signOut (data?: LocalStore | ClosableDevice): Promise<{ serverSignedOut: boolean }> {
    const r = await post(this.opts, '/auth/logout', { refreshToken: this.current.refreshToken })
    if (data !== undefined && 'store' in data) { // (a device: it has a destroy() too, its events')
      await data.close()
      await data.store.destroy()
    } else if (data !== undefined) await data.destroy()
    this.endedWith ??= new SignInFailed(401, 'signed out')
    return { serverSignedOut: r?.status === 200 }
  }
}
