// The user's sign-in in the browser: the token and refresh token (kept in localStorage so a reload with no
// network still opens the app), renewed with POST /auth/refresh before the token runs out while the app is
// in use, and handed to the device SDK as its TokenSource. Offline the app goes on with what it has.

import type { TokenRequest } from '../client/token.ts'

export interface SignedInUser { readonly id: string, readonly login: string, readonly fullName: string }

export interface SignIn {
  readonly token: string
  /** absent for an identity provider's token (renewed there, not here) */
  readonly refreshToken?: string
  readonly expiresAt: string
  readonly sessionExpiresAt?: string
  readonly user: SignedInUser
}

const KEY = 'fieldsync.sign-in'

/** Thrown when the server says the sign-in is over (401 on refresh): the user must sign in again. */
export class SignInEnded extends Error {}

interface Answer { readonly token?: string, readonly refreshToken?: string, readonly expiresAt?: string, readonly sessionExpiresAt?: string, readonly user?: { id?: string, login?: string, fullName?: string }, readonly error?: string }

const post = async (path: string, body: unknown, token?: string): Promise<{ status: number, json: Answer }> => {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(path, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  let json: Answer = {}
  try { json = text === '' ? {} : JSON.parse(text) as Answer } catch { json = { error: text } }
  return { status: res.status, json }
}

const signInOf = (a: Answer, previous?: SignIn): SignIn => {
  if (typeof a.token !== 'string' || typeof a.expiresAt !== 'string') throw new Error('the server answered without a token')
  const u = a.user ?? previous?.user
  return {
    token: a.token, refreshToken: a.refreshToken ?? previous?.refreshToken, expiresAt: a.expiresAt,
    sessionExpiresAt: a.sessionExpiresAt ?? previous?.sessionExpiresAt,
    user: { id: String(u?.id ?? ''), login: String(u?.login ?? ''), fullName: String(u?.fullName ?? u?.login ?? '') }
  }
}

/** The claims of a JWT (not verified: the server does that), for an identity provider's token. */
const claimsOf = (token: string): Record<string, unknown> => {
  const part = token.split('.')[1] ?? ''
  try { return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown> } catch { return {} }
}

export const stored = (): SignIn | null => {
  const text = localStorage.getItem(KEY)
  if (text === null) return null
  try { return JSON.parse(text) as SignIn } catch { return null }
}

const save = (s: SignIn | null): void => { if (s === null) localStorage.removeItem(KEY); else localStorage.setItem(KEY, JSON.stringify(s)) }

/** Signs in with login and password; the error's message is the server's words (401, 429). */
export const signInWithPassword = async (login: string, password: string): Promise<SignIn> => {
  const r = await post('/auth/login', { login, password })
  if (r.status !== 200) throw new Error(r.json.error ?? `sign-in failed (${r.status})`)
  const s = signInOf(r.json)
  save(s)
  return s
}

export const signInAsDemoUser = async (login: string): Promise<SignIn> => {
  const r = await post('/auth/dev-login', { user: login })
  if (r.status !== 200) throw new Error(r.json.error ?? `sign-in failed (${r.status})`)
  const s = signInOf(r.json)
  save(s)
  return s
}

/** An identity provider's token (as its sign-in hands it back in the URL fragment `#id_token=`); the
 * server checks it on first use. */
export const signInWithProviderToken = (token: string): SignIn => {
  const c = claimsOf(token)
  const sub = String(c.preferred_username ?? c.sub ?? 'user')
  const s: SignIn = {
    token, expiresAt: typeof c.exp === 'number' ? new Date(c.exp * 1000).toISOString() : new Date(Date.now() + 600_000).toISOString(),
    user: { id: `external:${String(c.sub ?? sub)}`, login: sub, fullName: String(c.name ?? sub) }
  }
  save(s)
  return s
}

export const demoUsers = async (): Promise<{ login: string, name: string }[] | null> => {
  try {
    const res = await fetch('/auth/demo-users')
    if (!res.ok) return null
    return ((await res.json()) as { users: { login: string, name: string }[] }).users
  } catch {
    return null
  }
}

/** A signed-in session: the current token, renewed ahead of its expiry (and when the server refuses it). */
export class Session {
  private current: SignIn
  private renewing: Promise<void> | null = null
  private timer: ReturnType<typeof setInterval> | null = null
  /** told when the sign-in ended on the server (refresh answered 401) */
  onEnded: (message: string) => void = () => {}

  constructor (s: SignIn) { this.current = s }

  get signIn (): SignIn { return this.current }
  get user (): SignedInUser { return this.current.user }

  private expiresInMs (): number { return Date.parse(this.current.expiresAt) - Date.now() }

  /** Renews now (one at a time). Offline it keeps the token it has; a 401 ends the session. */
  renew (): Promise<void> {
    if (this.current.refreshToken === undefined) return Promise.resolve()
    this.renewing ??= (async () => {
      try {
        const r = await post('/auth/refresh', { refreshToken: this.current.refreshToken })
        if (r.status === 200) { this.current = signInOf(r.json, this.current); save(this.current) } else if (r.status === 401) {
          this.onEnded(r.json.error ?? 'your sign-in ended')
          throw new SignInEnded(r.json.error ?? 'your sign-in ended')
        }
      } catch (e) {
        if (e instanceof SignInEnded) throw e
        // No network: go on with the token we have; we try again later.
      } finally {
        this.renewing = null
      }
    })()
    return this.renewing
  }

  /** The device SDK's TokenSource. */
  readonly token = async (request: TokenRequest): Promise<string> => {
    // An identity provider's token the server refused cannot be renewed here: the user signs in there again
    // (offline nothing refuses it, and the app goes on working with it).
    if (request.refused && this.current.refreshToken === undefined) this.onEnded('the identity provider\'s token expired')
    if (request.refused || this.expiresInMs() < 60_000) await this.renew().catch(() => {})
    return this.current.token
  }

  /** Renews while the app is open, once a third of the token's life is left (and when the network is back). */
  start (): void {
    const ttl = Math.max(60_000, Date.parse(this.current.expiresAt) - Date.now())
    const check = (): void => { if (this.expiresInMs() < ttl / 3 && navigator.onLine) void this.renew().catch(() => {}) }
    this.timer = setInterval(check, Math.min(30_000, ttl / 6))
    addEventListener('online', check)
  }

  /** Ends the sign-in on the server (best effort: offline the token simply expires) and forgets it here. */
  async signOut (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    const s = this.current
    save(null)
    try {
      if (s.refreshToken !== undefined) await post('/auth/logout', { refreshToken: s.refreshToken })
    } catch { /* offline */ }
  }
}
