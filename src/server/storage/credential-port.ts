// The sign-in port: password hashes, the generation of a user's tokens (bumped to refuse every token
// issued before) and sign-in sessions (what a refresh token renews). Synchronous like the security model
// it sits beside; adapters pass test/server/ports/security-suite.ts.

import type { BucketOptions, Buckets } from '../rate-limit.ts'

export interface SignInSession {
  readonly id: string
  readonly userId: string
  /** how often its refresh token was renewed: the current refresh token carries this number */
  readonly counter: number
  /** when the counter last moved (ms since the epoch) */
  readonly rotatedAt: number
  /** when the sign-in ends (ms since the epoch): no renewal after it */
  readonly expiresAt: number
}

export interface CredentialStore {
  /** The user's password hash (src/server/passwords.ts), if an administrator set one. */
  passwordHash (userId: string): string | undefined
  setPasswordHash (userId: string, hash: string): void
  /** The generation of the user's tokens (0 until the first revocation): tokens of another are refused. */
  tokenGeneration (userId: string): number
  /** Bumps the user's token generation and ends every session of the user, together; answers the new generation. */
  revokeTokens (userId: string): number
  session (id: string): SignInSession | undefined
  /** Saves a new session; ends every session expired at `now`, and the user's oldest beyond `maxPerUser`:
   * answers how many of the user's live sessions that ended (their tokens stop working). */
  createSession (session: SignInSession, now: number, maxPerUser: number): number
  /** Moves a session's counter from `from` to `from + 1` (its refresh token was renewed); false when it had
   * moved already (another renewal got there first) or the session is gone. */
  rotateSession (id: string, from: number, rotatedAt: number): boolean
  endSession (id: string): void
  /**
   * Token buckets every instance on this store shares (failed sign-ins counted once for the deployment), or
   * undefined when one process owns the store (SQLite: the buckets stay in memory). `name` keeps kinds apart.
   */
  sharedBuckets? (name: string, opts: Omit<BucketOptions, 'maxKeys'>): Buckets
  /**
   * With several instances on the store: notes that sign-ins of `userId` ended (revoked, signed out…), so
   * that every instance's sockets of that user are checked even when the fan-out message is lost; answers
   * the note's position.
   */
  noteSignInsEnded? (userId: string): number
  /** The users whose sign-ins ended after position `after` (notes older than a day are dropped), and the
   * newest position; `after` null: only the newest position. */
  signInsEndedSince? (after: number | null): { readonly position: number, readonly users: readonly string[] }
}
