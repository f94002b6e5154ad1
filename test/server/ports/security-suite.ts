// The tests every security-model store passes: versions, what each device last received, settings.

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
  })
}
