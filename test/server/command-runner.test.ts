// The command runner never leaves a record's pipeline (or, on PostgreSQL, its lock) waiting: a decision
// that throws, or a part's record that fails while its copy catches up under the lock, aborts the command
// and every part goes on. (Before, each left the other parts waiting for a decision that never came, and
// with the parts decided under their locks, those locks held on every instance.)

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { setField } from '../../src/docs/record.ts'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { loadMetadata } from '../../src/metadata/metadata.ts'
import { CommandRunner, type CommandOutcome } from '../../src/server/commands.ts'
import type { DocName } from '../../src/ids.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { ON_PG } from '../helpers/test-store.ts'
import { copyOf, idsOwnedBy, TIME } from '../security/support.ts'
import type { TestServer } from '../helpers/server.ts'

const catalog = loadCatalog()
const account = catalog.entities.get('account')!
const cleanups = useCleanups()

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref())])

/** Two of alice's accounts, their rooms loaded with alice as a member, a runner over them, and a command with a part in each. */
const setup = async (s: TestServer) => {
  const records = idsOwnedBy(s, 'account', 'u-alice').slice(0, 2).map(id => `account/${id}` as DocName)
  const member = recordingMember('u-alice')
  const rooms = await Promise.all(records.map(async r => { const room = s.server.rooms.get(r); await room.ready; room.join(member); return room }))
  const runner = new CommandRunner(s.server.rooms, catalog, loadMetadata('config/metadata.json', catalog).leadQualification)
  const edit = (r: DocName, value: string): Uint8Array => {
    const d = copyOf(s, r, 0x5000000 + Math.floor(Math.random() * 1000))
    const sv = Y.encodeStateVector(d)
    setField(d, account, 'telephone1', value, { by: 'u-alice', at: TIME })
    return Y.encodeStateAsUpdate(d, sv)
  }
  const run = (): Promise<CommandOutcome> => runner.run({ command: 'qualify', target: records[0], parts: records.map(r => ({ record: r, update: edit(r, '+47 part'), member })) })
  // Each record still takes an update afterwards (on PostgreSQL: its lock is free).
  const goesOn = async (): Promise<void> => {
    for (const [i, r] of records.entries()) expect((await within(rooms[i].submit(member, edit(r, '+47 after')), 10_000, `${r} takes an update`)).kind).toBe('committed')
  }
  return { records, rooms, run, goesOn }
}

describe('the command runner', () => {
  it('aborts a command whose decision throws, and every part goes on', async () => {
    const s = await serverFor(cleanups)
    const { rooms, run, goesOn } = await setup(s)
    rooms[1].trial = () => { throw new Error('a decision nothing foresaw') }
    const outcome = await within(run(), 10_000, 'the command\'s outcome')
    expect(outcome).toMatchObject({ kind: 'aborted', why: 'a decision nothing foresaw' })
    await goesOn()
  })

  it.skipIf(!ON_PG)('aborts a command when a part\'s record fails while catching up under its lock, and the other part goes on', async () => {
    const s = await serverFor(cleanups)
    const { records, rooms, run } = await setup(s)
    // Another instance committed bytes this copy cannot take in.
    s.sql('UPDATE fs_counters SET feed = feed + 1 WHERE id = 1')
    s.sql('INSERT INTO record_updates (seq, doc, data, parts) SELECT feed, ?, ?, 1 FROM fs_counters WHERE id = 1', records[1], Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
    const outcome = await within(run(), 10_000, 'the command\'s outcome')
    expect(outcome.kind).toBe('aborted')
    expect(rooms[1].isBroken).toBe(true)
    const member = recordingMember('u-alice')
    rooms[0].join(member)
    const d = copyOf(s, records[0], 0x5100000)
    const sv = Y.encodeStateVector(d)
    setField(d, account, 'telephone1', '+47 after', { by: 'u-alice', at: TIME })
    expect((await within(rooms[0].submit(member, Y.encodeStateAsUpdate(d, sv)), 10_000, 'the other record takes an update')).kind).toBe('committed')
  })
})
