// Found by fuzz.test.ts (FUZZ_STRICT=1, SEED=1, 5, 11): a writer that sends an update from a stale copy
// under its own client id, whose clocks the record already holds with other structs, gets the part past
// the record's clock integrated by Yjs after the record's struct with the clock before it, so in another
// parent than the struct's own origin says. The layout check judges that placement (src/docs/layout.ts);
// before it did, the tail of a memo insert landed in the watcher's copy as meta.modifiedon = "z".

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { editText, setField } from '../../src/docs/record.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { until } from '../helpers/server.ts'
import { copyOf, edit, exactly, open, ownedBy, raw, startServer, TIME } from './support.ts'

const contact = buildCatalog().entities.get('contact')!
const cleanups = useCleanups()

describe('an update from a stale copy under a client id whose clocks the record holds', () => {
  it('leaves every replica equal to the record', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'contact', 'u-nina')
    const room = s.server.rooms.get(name)
    await room.ready
    const watcher = await open(cleanups, s, name, 'avery')
    const bob = await raw(cleanups, s, name, 'bob')
    const settle = async (): Promise<void> => {
      const from = bob.messages.length
      bob.ws.send(new Uint8Array([0, SyncStep.step1, 1, 0]))
      await until(() => bob.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2), 'the reply')
      await room.settled()
    }
    const X = 1 << 24
    const stale = copyOf(s, name, X)
    bob.update(edit(copyOf(s, name, X), d => setField(d, contact, 'fullname', 'Bob Wrote This', { by: 'u-bob', at: TIME })))
    await settle()
    bob.update(edit(stale, d => editText(d, contact, 'description', 0, 0, 'abcdefghijklmnopqrstuvwxyz', { by: 'u-bob', at: TIME })))
    await settle()
    await until(() => JSON.stringify(exactly(watcher.doc)) === JSON.stringify(exactly(room.doc)), 'the watcher converges', [watcher.doc], 3000)
    expect(exactly(watcher.doc)).toEqual(exactly(room.doc))
  })
})
