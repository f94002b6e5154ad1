// A loaded record keeps its document, not the log it was built from: the bytes read from storage at load
// are garbage once applied (a record stays loaded for IDLE_UNLOAD_MS, and every loaded record holding its
// whole log again made a soak's heap grow with every record's history).

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import type { DocName } from '../../src/ids.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { Rooms } from '../../src/server/rooms.ts'
import type { RecordStorage, StoredRecord } from '../../src/server/storage/port.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { account, AT, catalog, roomOverStore } from '../helpers/room.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const cleanups = useCleanups()

/** `storage` whose loads are watched: a weak reference to every update's bytes it hands out. */
const watched = (storage: RecordStorage, loaded: WeakRef<Uint8Array>[]): RecordStorage => new Proxy(storage, {
  get (target, key) {
    if (key === 'load') {
      return async (doc: DocName): Promise<StoredRecord> => {
        const r = await target.load(doc)
        for (const u of r.updates) loaded.push(new WeakRef(u.data))
        return r
      }
    }
    const v = Reflect.get(target, key, target) as unknown
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
  }
})

describe('a loaded record', () => {
  it('lets go of the log it was loaded from', async () => {
    const { room, security, rooms: first } = await roomOverStore(cleanups, 'room-memory')
    for (let i = 0; i < 20; i++) await room.write(doc => setField(doc, account, 'telephone1', `+47 ${i}`, { by: 'u-avery', at: AT }))
    const storage = (first as unknown as { options: { storage: RecordStorage } }).options.storage
    const loaded: WeakRef<Uint8Array>[] = []
    // A second server core over the same store loads the record from its log.
    const rooms = new Rooms({ storage: watched(storage, loaded), catalog, security, idleUnloadMs: 60_000, compactAfter: 1000 })
    cleanups.push(() => rooms.close())
    const again = rooms.get(room.name)
    await again.ready
    expect(readRecord(again.doc, account).fields.telephone1).toBe('+47 19')
    expect(loaded.length).toBeGreaterThan(1)
    // (A weak reference holds its target until the job that made it ends.)
    await new Promise(resolve => setImmediate(resolve))
    gc()
    const kept = loaded.filter(w => w.deref() !== undefined).length
    expect(kept, `${kept} of the ${loaded.length} loaded updates are still held`).toBe(0)
    // The record is still loaded and whole.
    expect(rooms.has(again.name)).toBe(true)
    expect(readRecord(again.doc, account).fields.telephone1).toBe('+47 19')
  })
})
