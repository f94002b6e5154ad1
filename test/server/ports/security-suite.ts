// The tests every security-model store passes: versions, what each device last received, settings, and
// sign-in (password hashes, token generations, sessions).

import { describe, expect, it } from 'vitest'
import type { SecurityStore } from '../../../src/server/storage/security-port.ts'
import type { SecurityModel } from '../../../src/authz/model.ts'

export interface SecurityHarness {
  readonly store: SecurityStore
  /** closes and reopens over the same data */
  reopen (): Promise<SecurityStore>
  dispose (): Promise<void>
}

export const describeSecurityStore = (adapter: string, model: SecurityModel, open: () => Promise<SecurityHarness>): void => {
  describe(`${adapter} security store`, () => {
    it('keeps every version of the model; the newest is the latest', async () => {
      const h = await open()
      try {
        expect(h.store.latest()).toBeUndefined()
        const v1 = { ...model, version: 1 }
        const v2 = { ...model, version: 2, shares: [] }
        h.store.save(v1)
        h.store.save(v2)
        const store = await h.reopen()
        expect(store.latest()).toEqual(v2)
        expect(store.at(1)).toEqual(v1)
        expect(store.at(3)).toBeUndefined()
      } finally {
        await h.dispose()
      }
    })

    it('remembers the version each principal\'s device last received, and settings', async () => {
      const h = await open()
      try {
        expect(h.store.delivered('u1')).toBeUndefined()
        h.store.setDelivered('u1', 3)
        h.store.setDelivered('u1', 4)
        h.store.setDelivered('u2', 1)
        expect(h.store.getSetting('jwt-secret')).toBeUndefined()
        h.store.setSetting('jwt-secret', 'a')
        h.store.setSetting('jwt-secret', 'b')
        const store = await h.reopen()
        expect(store.delivered('u1')).toBe(4)
        expect(store.delivered('u2')).toBe(1)
        expect(store.getSetting('jwt-secret')).toBe('b')
      } finally {
        await h.dispose()
      }
    })

    it('keeps password hashes and token generations; a revocation bumps the generation and ends the user\'s sessions only', async () => {
      const h = await open()
      try {
        const c = h.store.credentials
        expect(c.passwordHash('u1')).toBeUndefined()
        expect(c.tokenGeneration('u1')).toBe(0)
        c.setPasswordHash('u1', '$scrypt$a')
        c.setPasswordHash('u1', '$scrypt$b')
        const session = (id: string, userId: string, expiresAt = 10_000) => ({ id, userId, counter: 0, rotatedAt: 0, expiresAt })
        c.createSession(session('s1', 'u1'), 0, 50)
        c.createSession(session('s2', 'u2'), 0, 50)
        expect(c.revokeTokens('u1')).toBe(1)
        expect(c.revokeTokens('u1')).toBe(2)
        expect(c.session('s1')).toBeUndefined()
        expect(c.session('s2')).toEqual(session('s2', 'u2'))
        const store = await h.reopen()
        expect(store.credentials.passwordHash('u1')).toBe('$scrypt$b')
        expect(store.credentials.tokenGeneration('u1')).toBe(2)
        expect(store.credentials.tokenGeneration('u2')).toBe(0)
        // a revocation keeps the password
        store.credentials.revokeTokens('u1')
        expect(store.credentials.passwordHash('u1')).toBe('$scrypt$b')
      } finally {
        await h.dispose()
      }
    })

    it('keeps sessions: rotates a counter once per expected value, ends expired ones and a user\'s oldest beyond the limit', async () => {
      const h = await open()
      try {
        const c = h.store.credentials
        c.createSession({ id: 's1', userId: 'u1', counter: 0, rotatedAt: 0, expiresAt: 1000 }, 0, 2)
        expect(c.rotateSession('s1', 0, 5)).toBe(true)
        expect(c.rotateSession('s1', 0, 6)).toBe(false)
        expect(c.session('s1')).toEqual({ id: 's1', userId: 'u1', counter: 1, rotatedAt: 5, expiresAt: 1000 })
        expect(c.rotateSession('nope', 0, 6)).toBe(false)
        expect(c.createSession({ id: 's2', userId: 'u1', counter: 0, rotatedAt: 10, expiresAt: 2000 }, 10, 2)).toBe(0)
        expect(c.createSession({ id: 's3', userId: 'u1', counter: 0, rotatedAt: 20, expiresAt: 3000 }, 20, 2)).toBe(1) // s1, the oldest past 2
        expect([c.session('s1'), c.session('s2')?.id, c.session('s3')?.id]).toEqual([undefined, 's2', 's3'])
        c.createSession({ id: 's4', userId: 'u2', counter: 0, rotatedAt: 2500, expiresAt: 9000 }, 2500, 2)
        expect(c.session('s2')).toBeUndefined() // expired at 2500
        c.endSession('s3')
        const store = await h.reopen()
        expect(store.credentials.session('s3')).toBeUndefined()
        expect(store.credentials.session('s4')?.userId).toBe('u2')
      } finally {
        await h.dispose()
      }
    })
  })
}
