// A batch of a record is published as one update (src/server/pipeline/batch-update.ts). A read-only user
// writing at the same moment as a writer, round after round, must not get a byte of its refused value
// into what a third editor receives, and everyone converges on the writer's values.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { ownedBy, startServer } from './support.ts'
import * as Y from 'yjs'

const cleanups = useCleanups()
const account = buildCatalog().entities.get('account')!

describe('one published update per batch', () => {
  it('carries nothing a read-only user wrote alongside an allowed writer', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const open = async (login: string): Promise<{ doc: Y.Doc, frames: Buffer[] }> => {
      const doc = new Y.Doc()
      const p = provider(s.wsUrl, name, doc, await s.token(login))
      cleanups.push(() => p.destroy())
      await synced(p)
      const frames: Buffer[] = []
      p.ws!.addEventListener('message', (e: { data: unknown }) => { frames.push(Buffer.from(e.data as ArrayBuffer)) })
      return { doc, frames }
    }
    const alice = await open('alice')
    const erin = await open('erin')
    const avery = await open('avery')
    const name0 = readRecord(alice.doc, account).fields.name
    for (let i = 0; i < 15; i++) {
      // (In one turn: both reach the server together, one batch as often as not.)
      setField(alice.doc, account, 'telephone1', `+47 ${i}`, { by: 'u-alice', at: new Date().toISOString() })
      setField(erin.doc, account, 'name', `erin-secret-${i}`, { by: 'u-erin', at: new Date().toISOString() })
      await until(() => readRecord(avery.doc, account).fields.telephone1 === `+47 ${i}`, `round ${i} at avery`)
    }
    await until(() => readRecord(erin.doc, account).fields.name === name0, 'erin converged back')
    expect(readRecord(avery.doc, account).fields.name).toBe(name0)
    for (const f of [...avery.frames, ...alice.frames]) expect(f.includes('erin-secret')).toBe(false)
    expect(avery.frames.length).toBeGreaterThan(0)
  })
})
