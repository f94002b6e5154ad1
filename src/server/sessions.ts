// Sign-in sessions and their refresh tokens. A sign-in starts a session that lasts SESSION_TTL_SECONDS;
// its refresh token `<session>.<n>.<mac>` (mac = HMAC of the session and n under a key derived from the
// server's secret) renews it, and each renewal moves n on: the old token is spent. A spent token shown
// again means two holders (a copy was taken), and ends the session — except the one just spent, within a
// minute, which answers the current token again (a device whose answer was lost on the way retries).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { CredentialStore, SignInSession } from './storage/credential-port.ts'

/** How long the refresh token just spent still answers the current one (a lost answer retried). */
export const REFRESH_GRACE_MS = 60_000
/** A user's newest sign-ins kept; an older one ends when another starts. */
export const MAX_SESSIONS_PER_USER = 50

export type Renewal =
  | { readonly ok: true, readonly session: SignInSession, readonly refreshToken: string }
  | { readonly ok: false, readonly why: string, /** the user whose sign-in this ended (a reused token) */ readonly ended?: string }

const TOKEN = /^([A-Za-z0-9_-]{22})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/

export class Sessions {
  private readonly store: CredentialStore
  private readonly key: Buffer
  private readonly clock: () => number
  private readonly ttlMs: number

  constructor (store: CredentialStore, secret: string, clock: () => number, ttlSeconds: number) {
    this.store = store
    // Its own key: a refresh token's mac is never a valid signature of anything else the server signs.
    this.key = createHmac('sha256', secret).update('fieldsync refresh tokens').digest()
    this.clock = clock
    this.ttlMs = ttlSeconds * 1000
  }

  private mac (id: string, n: number): string {
    return createHmac('sha256', this.key).update(`${id}.${n}`).digest('base64url')
  }

  private tokenOf (s: SignInSession): string { return `${s.id}.${s.counter}.${this.mac(s.id, s.counter)}` }

  /** A new session of `userId` and its first refresh token. */
  /** A new sign-in of `userId`; `ended`: how many of the user's sign-ins it ended (the oldest past the limit). */
  start (userId: string): { readonly session: SignInSession, readonly refreshToken: string, readonly ended: number } {
    const now = this.clock()
    const session: SignInSession = { id: randomBytes(16).toString('base64url'), userId, counter: 0, rotatedAt: now, expiresAt: now + this.ttlMs }
    const ended = this.store.createSession(session, now, MAX_SESSIONS_PER_USER)
    return { session, refreshToken: this.tokenOf(session), ended }
  }

  /** The session, while it lasts. */
  live (id: string): SignInSession | undefined {
    const s = this.store.session(id)
    return s !== undefined && s.expiresAt > this.clock() ? s : undefined
  }

  /** Spends a refresh token: the session with its next refresh token, or why not. */
  renew (refreshToken: string): Renewal {
    const m = TOKEN.exec(refreshToken)
    if (m === null) return { ok: false, why: 'not a refresh token' }
    const [, id, nText, mac] = m
    const n = Number(nText)
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(this.mac(id, n)))) return { ok: false, why: 'not a refresh token' }
    const s = this.live(id)
    if (s === undefined) return { ok: false, why: 'the sign-in ended: sign in again' }
    const now = this.clock()
    if (n === s.counter) {
      if (!this.store.rotateSession(id, n, now)) return { ok: false, why: 'renewed at the same moment elsewhere: try again' }
      const next = { ...s, counter: n + 1, rotatedAt: now }
      return { ok: true, session: next, refreshToken: this.tokenOf(next) }
    }
    if (n === s.counter - 1 && now - s.rotatedAt <= REFRESH_GRACE_MS) return { ok: true, session: s, refreshToken: this.tokenOf(s) }
    // A token spent before: someone else holds a copy. Neither holder may go on.
    this.store.endSession(id)
    return { ok: false, why: 'this refresh token was already used: the sign-in is ended, sign in again', ended: s.userId }
  }

  /** The session a refresh token names, if the token is genuine (spent or not). */
  sessionOf (refreshToken: string): string | undefined {
    const m = TOKEN.exec(refreshToken)
    if (m === null) return undefined
    return timingSafeEqual(Buffer.from(m[3]), Buffer.from(this.mac(m[1], Number(m[2])))) ? m[1] : undefined
  }

  end (id: string): void { this.store.endSession(id) }
}
