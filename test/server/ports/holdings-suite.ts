// The tests every device-holdings adapter passes: device ownership, cursor, receipt offer, and which
// records a device holds for sure or may hold.

import { describe, expect, it } from 'vitest'
import type { DeviceHoldings } from '../../../src/server/storage/holdings-port.ts'
import type { DocName } from '../../../src/ids.ts'

export interface HoldingsHarness {
  readonly holdings: DeviceHoldings
  /** closes and reopens over the same data */
  reopen (): Promise<DeviceHoldings>
  dispose (): Promise<void>
}

const names = (...n: string[]): DocName[] => n as DocName[]
const sorted = (s: Set<DocName>): string[] => [...s].sort()

export const describeHoldings = (adapter: string, open: () => Promise<HoldingsHarness>): void => {
  describe(`${adapter} device holdings`, () => {
    it('gives a device id to the first principal that claims it, with no cursor and no receipt offer yet', async () => {
      const h = await open()
      try {
        expect(h.holdings.claimDevice('dev-00001', 'u1')).toBe(true)
        expect(h.holdings.claimDevice('dev-00001', 'u1')).toBe(true)
        expect(h.holdings.claimDevice('dev-00001', 'u2')).toBe(false)
        expect(h.holdings.deviceCursor('dev-00001')).toBe(0)
        expect(h.holdings.offerMark('dev-00001')).toBeNull()
        h.holdings.setOfferMark('dev-00001', 12)
        const holdings = await h.reopen()
        expect(holdings.claimDevice('dev-00001', 'u2')).toBe(false)
        expect(holdings.offerMark('dev-00001')).toBe(12)
        expect(holdings.deviceCursor('unknown-dev')).toBe(0)
      } finally {
        await h.dispose()
      }
    })

    it('forgets a principal\'s devices beyond the newest to say hello, with what they hold, except those named', async () => {
      const h = await open()
      try {
        for (const d of ['dev-r1', 'dev-r2', 'dev-r3', 'dev-r4']) { h.holdings.claimDevice(d, 'u1'); h.holdings.hold(d, names('account/a1')) }
        h.holdings.claimDevice('dev-other', 'u2')
        h.holdings.claimDevice('dev-r1', 'u1') // said hello again: now the newest
        expect(h.holdings.retireDevices('u1', 2, new Set(['dev-r2'])).sort()).toEqual(['dev-r3'])
        expect(h.holdings.retireDevices('u1', 2, new Set())).toEqual(['dev-r2'])
        const holdings = await h.reopen()
        expect(holdings.held('dev-r3').size + holdings.held('dev-r2').size).toBe(0)
        expect(sorted(holdings.held('dev-r1'))).toEqual(['account/a1'])
        expect(sorted(holdings.held('dev-r4'))).toEqual(['account/a1'])
        expect(holdings.retireDevices('u1', 2, new Set())).toEqual([])
        // A forgotten id is free again; the other principal's device was not touched.
        expect(holdings.claimDevice('dev-r3', 'u2')).toBe(true)
        expect(holdings.claimDevice('dev-other', 'u2')).toBe(true)
      } finally {
        await h.dispose()
      }
    })

    it('tells records held for sure from those perhaps held, and records a finished cycle at once', async () => {
      const h = await open()
      try {
        const d = 'dev-00002'
        h.holdings.claimDevice(d, 'u1')
        h.holdings.mayHold(d, names('account/a1', 'account/a2'))
        expect(sorted(h.holdings.unconfirmed(d))).toEqual(['account/a1', 'account/a2'])
        expect(h.holdings.held(d).size).toBe(0)
        h.holdings.finishCycle(d, names('account/a1', 'account/a2'), [], 40, false)
        expect(sorted(h.holdings.held(d))).toEqual(['account/a1', 'account/a2'])
        expect(h.holdings.unconfirmed(d).size).toBe(0)
        expect(h.holdings.deviceCursor(d)).toBe(40)
        // A confirmed record stays confirmed when noted as sent again.
        h.holdings.mayHold(d, names('account/a1'))
        expect(h.holdings.holds(d, 'account/a1' as DocName)).toBe(true)
        // An evict sent: perhaps held until a cycle finishes.
        h.holdings.unsure(d, names('account/a2'))
        expect(h.holdings.holds(d, 'account/a2' as DocName)).toBe(false)
        expect(sorted(h.holdings.unconfirmed(d))).toEqual(['account/a2'])
        h.holdings.hold(d, names('contact/c1'))
        h.holdings.finishCycle(d, [], names('account/a2'), 50, false)
        const holdings = await h.reopen()
        expect(sorted(holdings.held(d))).toEqual(['account/a1', 'contact/c1'])
        expect(holdings.unconfirmed(d).size).toBe(0)
        expect(holdings.deviceCursor(d)).toBe(50)
        expect(holdings.held('dev-other').size).toBe(0)
      } finally {
        await h.dispose()
      }
    })

    it('commits a batch of writes at once, or none of it when it throws', async () => {
      const h = await open()
      try {
        h.holdings.claimDevice('dev-00004', 'u1')
        h.holdings.claimDevice('dev-00005', 'u1')
        h.holdings.batch(() => {
          h.holdings.finishCycle('dev-00004', names('account/a1'), [], 7, false)
          h.holdings.finishCycle('dev-00005', [], [], 9, false)
          h.holdings.mayHold('dev-00005', names('account/a2'))
        })
        expect(() => h.holdings.batch(() => {
          h.holdings.finishCycle('dev-00004', [], [], 8, false)
          h.holdings.forget('dev-00005')
          throw new Error('in the middle')
        })).toThrow('in the middle')
        const holdings = await h.reopen()
        expect(holdings.deviceCursor('dev-00004')).toBe(7)
        expect(sorted(holdings.held('dev-00004'))).toEqual(['account/a1'])
        expect(holdings.deviceCursor('dev-00005')).toBe(9)
        expect(sorted(holdings.unconfirmed('dev-00005'))).toEqual(['account/a2'])
        expect(holdings.needsScope('dev-00005')).toBe(false)
      } finally {
        await h.dispose()
      }
    })

    it('forgets what a device holds; it then needs its whole scope until a cycle that sent it finishes', async () => {
      const h = await open()
      try {
        const d = 'dev-00003'
        h.holdings.claimDevice(d, 'u1')
        h.holdings.hold(d, names('account/a1'))
        h.holdings.mayHold(d, names('account/a2'))
        expect(h.holdings.needsScope(d)).toBe(false)
        h.holdings.forget(d)
        expect(h.holdings.held(d).size + h.holdings.unconfirmed(d).size).toBe(0)
        expect(h.holdings.needsScope(d)).toBe(true)
        h.holdings.finishCycle(d, names('account/a1'), [], 10, false)
        expect(h.holdings.needsScope(d)).toBe(true) // a live cycle does not send the scope
        h.holdings.finishCycle(d, [], [], 11, true)
        expect((await h.reopen()).needsScope(d)).toBe(false)
      } finally {
        await h.dispose()
      }
    })
  })
}
