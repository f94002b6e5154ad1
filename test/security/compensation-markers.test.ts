// Found by fuzz.test.ts (SEED=9, 10, 16): a refused text edit was compensated at the wrong position. Y.Text
// caches positions (search markers); items the server integrates from an update (in a transaction it keeps
// local) or deletes directly do not update them, so the index-based re-insert of the compensation used a
// stale position once an earlier compensation had made a marker and an allowed edit had shifted the text.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { editText, readRecord } from '../../src/docs/record.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, raw, startServer, TIME, ownedBy } from './support.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { until } from '../helpers/server.ts'
import type { Raw } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

describe('a refused text edit', () => {
  it('is compensated in place after earlier compensations and allowed edits', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const room = s.server.rooms.get(name)
    const alice = await raw(cleanups, s, name, 'alice')
    const erin = await raw(cleanups, s, name, 'erin')
    let client = 1 << 24
    const send = async (r: Raw, by: string, index: number, del: number, insert: string): Promise<void> => {
      const from = r.messages.length
      r.update(edit(copyOf(s, name, client++), d => editText(d, account, 'description', index, del, insert, { by, at: TIME })))
      r.ws.send(new Uint8Array([0, SyncStep.step1, 1, 0]))
      await until(() => r.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2), 'the reply')
      await room.settled()
    }
    const text = (): string => readRecord(room.doc, account).texts.description ?? ''
    await send(alice, 'u-alice', 0, text().length, 'abcdefghijklmnop')
    for (const [i, at] of [3, 7, 2, 9, 5].entries()) {
      const before = text()
      await send(erin, 'u-erin', at, 1, 'ZZ')
      expect(text(), `refused edit ${i}`).toBe(before)
      await send(alice, 'u-alice', 0, 0, 'Q'.repeat(i + 1))
    }
  })
})
