// Kept Yjs client ids (src/client/writer-id.ts, rule 3) with two sessions on one local store (two tabs, two
// processes): each holds a slot and writes under that slot's kept id. A record evicted by the session that
// syncs is dropped from the shared store; only the evicting session's current id was retired, and the other
// slot's id, whose items the record held, was kept (found by a reviewer). Reopened (a reload keeps its slot
// while the first session holds slot 0), that session wrote into the record it no longer holds from an empty
// document, under the kept id at a clock the server already had: the server took the new item for the
// earlier one. An eviction now forgets every kept id with items in the record (Replica.evict). A session
// still open under such an id keeps it in memory until it ends (README, "Kept client ids").

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assignAs, deviceFor, serverFor } from '../helpers/device.ts'
import { idsOwnedBy } from '../security/support.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const assign = async (s: TestServer, record: string, owner: string): Promise<void> => { expect((await assignAs(s, record, `systemuser/${owner}`)).status).toBe(200) }

describe('a record one session evicts from a store another session wrote it in', () => {
  it('is written under another id by that session after a reload', async () => {
    const s = await serverFor(cleanups)
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-two-tabs-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const first = await deviceFor(cleanups, s, 'alice', dir)
    await first.sync()
    first.disconnect()
    const [name] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}`)
    // The second tab (slot 1) edits the account and syncs it.
    let second = await deviceFor(cleanups, s, 'alice', dir)
    await second.update(name, { telephone1: 'from the second tab' })
    await second.sync()
    const kept = (await second.open(name)).clientID
    expect(kept).not.toBe((await first.open(name)).clientID)
    second.disconnect()
    await second.close()
    // The first tab syncs the account's eviction.
    await assign(s, name, 'u-carol')
    await first.sync()
    expect(await first.store.records()).not.toContain(name)
    first.disconnect()
    // The second tab reloads (slot 1 again: the first holds slot 0) and writes into the account left open in a form.
    second = await deviceFor(cleanups, s, 'alice', dir)
    const empty = await second.open(name)
    expect(empty.getMap('fields').size).toBe(0)
    expect(empty.clientID).not.toBe(kept)
  })
})
