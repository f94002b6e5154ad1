// A reassignment takes read access away from the record's secured-field documents too: a socket on
// `<record>/<attribute>` of a user who can no longer read the record closes with 4403 (README, "Security").
// On one instance the record's room sees its owner change and checks the loaded field documents. On
// another instance where only the field document is loaded (the user opened that alone), the commit
// arrived as a peer message of a record not loaded there, taken as "owner unchanged": the field
// socket stayed open and went on receiving the secured value until its token expired.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { loginTo, twoInstances } from '../helpers/cluster.ts'

const catalog = loadCatalog()

describe('a reassignment on one instance', () => {
  it('closes (4403) a field-document socket on another instance where the record itself is not loaded', async () => {
    // Records unload soon after their last peer left (the start's secured-field placement loaded them all).
    const { instances, record, providers, stop } = await twoInstances(catalog, 'fs-field-readers', { IDLE_UNLOAD_MS: '100' })
    const loaded = async (port: number): Promise<number> => ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { loadedRecords: number }).loadedRecords
    try {
      // bob (alice's manager, Finance field profile) reads alice's account and its revenue; only the
      // revenue document is open, on instance 1.
      const bob = provider(`ws://127.0.0.1:${instances[1].port}/sync`, `${record}/revenue`, new Y.Doc(), await loginTo(instances[1].port, 'bob'))
      providers.push(bob)
      await synced(bob)
      // Only the revenue document is loaded on instance 1 now.
      let n = -1
      await until(() => { void loaded(instances[1].port).then(x => { n = x }); return n === 1 }, 'instance 1 holding the revenue document alone', [], 10_000)
      const closes: number[] = []
      bob.on('connection-close', e => { if (e !== null) closes.push(e.code) })
      // avery reassigns it on instance 0 to dan (bu-service), out of bob's reach.
      const res = await fetch(`http://127.0.0.1:${instances[0].port}/api/records/${record}/assign`, {
        method: 'POST', headers: { authorization: `Bearer ${await loginTo(instances[0].port, 'avery')}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid: 'systemuser/u-dan' })
      })
      expect(res.status).toBe(200)
      await until(() => closes.includes(CloseCode.readRevoked), 'bob\'s revenue socket closed with 4403 on instance 1', [], 5_000)
    } finally {
      await stop()
    }
  }, 60_000)
})
