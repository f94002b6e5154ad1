// A device's pushes are taken into their records' pipelines as they arrive (device-session.ts): a
// read-only user's device can now have thousands of refused pushes in one record's pipeline at once,
// where before it had one at a time. What it sends must cost only itself: its refusals are rate-limited
// per user and record (past the burst its socket closes with 4429), nothing of its values is kept, and a
// writer's edit of the same record sent during the flood is committed.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, raw, rawDevice, sendCommitted, startServer, TIME } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

describe('a read-only user\'s device flooding one record with pushes', () => {
  it('is closed past the refusal burst, keeps nothing, and a writer\'s edit sent meanwhile commits', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const erin = await rawDevice(cleanups, s, 'erin', 'flood-erin-1')
    let code = 0
    erin.ws.on('close', (c: number) => { code = c })
    const doc = copyOf(s, name, 0x6e00001)
    const n = 1000
    for (let i = 0; i < n; i++) {
      const sv = Y.encodeStateVector(doc)
      setField(doc, account, 'telephone1', `erin-flood-${i}`, { by: 'u-erin', at: TIME })
      erin.send({ type: DeviceMessage.push, record: name, id: i + 1, update: Y.encodeStateAsUpdate(doc, sv) })
    }
    // alice writes the same record over /sync while erin's pushes are in its pipeline.
    const alice = await raw(cleanups, s, name, 'alice')
    await sendCommitted(alice, edit(copyOf(s, name, 0x6e00002), d => setField(d, account, 'telephone1', '+47 alice during the flood', { by: 'u-alice', at: new Date().toISOString() })))
    await until(() => code !== 0, 'erin closed')
    expect(code).toBe(CloseCode.rateLimited)
    await s.server.rooms.get(name).settled()
    // (On PostgreSQL the test's row reader sees the commit a moment later.)
    await until(() => s.projection.row('account', name.split('/')[1])?.telephone1 === '+47 alice during the flood', 'alice\'s edit in the row')
    // Nothing of erin's values is stored, and none of her pushes was acknowledged as taken.
    expect(s.stored(name).some(u => Buffer.from(u).toString('latin1').includes('erin-flood-'))).toBe(false)
    expect(erin.frames.filter(f => f.type === DeviceMessage.ack).length).toBeLessThan(n)
    // The server still answers.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
  })
})
