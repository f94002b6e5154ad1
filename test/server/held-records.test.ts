// What open devices hold, in memory (HeldRecords): it passes the holdings ports' shared suite with every
// device attached, and through random writes, attaches and detaches it answers as the SQLite adapter
// alone does, its record -> devices index names exactly the attached devices holding each record, and
// what it leaves in storage (cursors written a turn later included) is what the adapter alone stores.
// Seeded: SEED=<n> replays.

import { describe, expect, it } from 'vitest'
import { HeldRecords } from '../../src/server/held-records.ts'
import { SqliteDeviceHoldings } from '../../src/server/storage/sqlite-holdings.ts'
import type { DocName } from '../../src/ids.ts'
import { describeHoldings } from './ports/holdings-suite.ts'
import { chance, int, pick, withSeed } from '../helpers/seed.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { until } from '../helpers/server.ts'
import { tempDb } from '../helpers/temp-db.ts'

const cleanups = useCleanups()

/** Keeps every device it is told about in memory, as if a session of each were open. */
class AttachingHeldRecords extends HeldRecords {
  private readonly attached = new Set<string>()
  override claimDevice (device: string, principal: string): boolean {
    const ok = super.claimDevice(device, principal)
    if (ok && !this.attached.has(device)) { this.attached.add(device); this.attach(device) }
    return ok
  }

  /** (An attached device is never forgotten: those the suite forgets are detached first, as if their sessions had closed.) */
  override retireDevices (principal: string, keep: number, except: ReadonlySet<string>): string[] {
    for (const d of this.attached) if (!except.has(d)) this.detach(d)
    const gone = super.retireDevices(principal, keep, except)
    for (const d of this.attached) {
      if (gone.includes(d)) this.attached.delete(d)
      else if (!except.has(d)) this.attach(d)
    }
    return gone
  }
}

describeHoldings('HeldRecords over SQLite, devices attached', async () => {
  const t = tempDb('fieldsync-held-')
  let holdings = new AttachingHeldRecords(new SqliteDeviceHoldings(t.db()))
  return {
    holdings,
    reopen: async () => { holdings.flush(); holdings = new AttachingHeldRecords(new SqliteDeviceHoldings(t.reopen())); return holdings },
    dispose: async () => t.dispose()
  }
})

describe('HeldRecords', () => {
  it('answers as the adapter alone, and indexes each record\'s attached holders, through random writes', async () => {
    await withSeed(async gen => {
      const a = tempDb('fieldsync-held-')
      const b = tempDb('fieldsync-held-')
      cleanups.push(() => { a.dispose(); b.dispose() })
      const held = new HeldRecords(new SqliteDeviceHoldings(a.db()))
      const alone = new SqliteDeviceHoldings(b.db())
      const devices = ['dev-00001', 'dev-00002', 'dev-00003']
      const docs = Array.from({ length: 8 }, (_, i) => `account/a${i}` as DocName)
      for (const d of devices) { held.claimDevice(d, 'u1'); alone.claimDevice(d, 'u1') }
      const sessions = new Map(devices.map(d => [d, 0]))
      const some = (): DocName[] => docs.filter(() => chance(gen, 0.3))
      let cursor = 0
      for (let step = 0; step < 400; step++) {
        const device = pick(gen, devices)
        const r = int(gen, 0, 9)
        if (r === 0) { held.attach(device); sessions.set(device, sessions.get(device)! + 1) } else if (r === 1 && sessions.get(device)! > 0) { held.detach(device); sessions.set(device, sessions.get(device)! - 1) } else {
          const both = (f: (h: SqliteDeviceHoldings | HeldRecords) => void): void => { f(held); f(alone) }
          const added = some()
          const removed = some()
          const cursorOnly = chance(gen, 0.3)
          const sentScope = !cursorOnly && chance(gen, 0.3)
          const next = ++cursor
          switch (int(gen, 0, 5)) {
            case 0: both(h => h.hold(device, added)); break
            case 1: both(h => h.mayHold(device, added)); break
            case 2: both(h => h.unsure(device, added)); break
            case 3: both(h => h.finishCycle(device, cursorOnly ? [] : added, cursorOnly ? [] : removed, next, sentScope)); break
            case 4: if (chance(gen, 0.2)) both(h => h.forget(device)); break
            default: if (chance(gen, 0.3)) held.flush()
          }
        }
        const at = `step ${step}`
        for (const d of devices) {
          expect([...held.held(d)].sort(), at).toEqual([...alone.held(d)].sort())
          expect([...held.unconfirmed(d)].sort(), at).toEqual([...alone.unconfirmed(d)].sort())
          expect(held.deviceCursor(d), at).toBe(alone.deviceCursor(d))
          expect(held.needsScope(d), at).toBe(alone.needsScope(d))
          for (const doc of docs) {
            expect(held.holds(d, doc), at).toBe(alone.holds(d, doc))
            expect(held.tracks(d, doc), at).toBe(alone.holds(d, doc) || alone.unconfirmed(d).has(doc))
          }
        }
        for (const doc of docs) {
          const expected = devices.filter(d => sessions.get(d)! > 0 && (alone.holds(d, doc) || alone.unconfirmed(d).has(doc)))
          expect([...held.holdersOf(doc)].sort(), `${at} ${doc}`).toEqual(expected)
        }
      }
      // What storage holds once the waiting cursors are written.
      held.flush()
      const stored = new SqliteDeviceHoldings(a.reopen())
      for (const d of devices) {
        expect([...stored.held(d)].sort()).toEqual([...alone.held(d)].sort())
        expect([...stored.unconfirmed(d)].sort()).toEqual([...alone.unconfirmed(d)].sort())
        expect(stored.deviceCursor(d)).toBe(alone.deviceCursor(d))
      }
    })
  })

  it('writes a cursor that alone changed soon after, and at once before anything reads the port', async () => {
    const t = tempDb('fieldsync-held-')
    cleanups.push(() => t.dispose())
    const held = new HeldRecords(new SqliteDeviceHoldings(t.db()))
    held.claimDevice('dev-00001', 'u1')
    held.attach('dev-00001')
    held.finishCycle('dev-00001', ['account/a1' as DocName], [], 5, true)
    held.finishCycle('dev-00001', [], [], 6, false)
    // Not in storage yet, but every answer sees it.
    expect(new SqliteDeviceHoldings(t.db()).deviceCursor('dev-00001')).toBe(5)
    expect(held.deviceCursor('dev-00001')).toBe(6)
    held.finishCycle('dev-00001', [], [], 7, false)
    const stored = new SqliteDeviceHoldings(t.db())
    expect(stored.deviceCursor('dev-00001')).toBe(6)
    await until(() => stored.deviceCursor('dev-00001') === 7, 'the cursor written')
  })
})
