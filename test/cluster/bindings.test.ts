// A client id bound on one instance is bound on the others, also on an instance whose copy took the update
// that bound it from Redis (the message brings the ids its commit bound, and the copy reads them from
// storage under the lock before it decides). Two instances as child processes on one schema and the
// machine's Redis.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import type { DocName } from '../../src/ids.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { loginTo, twoInstances } from '../helpers/cluster.ts'

const catalog = loadCatalog()
const account = catalog.entities.get('account')!

describe('client-id bindings across instances', () => {
  it('refuse, on an instance that took the binding update from Redis, another principal writing under that client id', async () => {
    const { instances, stores, record, providers, stop } = await twoInstances(catalog, 'fs-bindings')
    try {
      const stamp = (by: string) => ({ by, at: new Date().toISOString() })
      // avery (an administrator, who may write alice's record) holds it open on instance 1: loaded, idle
      const averyDoc = new Y.Doc()
      const avery = provider(`ws://127.0.0.1:${instances[1].port}/sync`, record, averyDoc, await loginTo(instances[1].port, 'avery'))
      providers.push(avery)
      await synced(avery)
      // alice writes on instance 0 under a client id of her own; instance 1 takes it from Redis
      const aliceDoc = new Y.Doc()
      const alicesClient = 123_456_789
      aliceDoc.clientID = alicesClient
      const alice = provider(`ws://127.0.0.1:${instances[0].port}/sync`, record, aliceDoc, await loginTo(instances[0].port, 'alice'))
      providers.push(alice)
      await synced(alice)
      setField(aliceDoc, account, 'telephone1', 'alice wrote this', stamp('u-alice'))
      await until(() => readRecord(averyDoc, account).fields.telephone1 === 'alice wrote this', 'alice\'s write on instance 1', [averyDoc], 10_000)
      // avery writes under alice's client id on instance 1 (a copy of the record with that id)
      const forger = new Y.Doc()
      Y.applyUpdate(forger, Y.encodeStateAsUpdate(averyDoc))
      const before = Y.encodeStateVector(forger)
      forger.clientID = alicesClient
      setField(forger, account, 'name', 'written under alice\'s id', stamp('u-avery'))
      Y.applyUpdate(averyDoc, Y.encodeStateAsUpdate(forger, before))
      // refused whole, with a receipt for avery, and nothing of it stored
      const refused = async (): Promise<boolean> => (await stores.log.receipts('u-avery', 0, 100)).some(r => r.reason === Reason.foreignClientId)
      const stored = async (): Promise<unknown> => {
        const d = new Y.Doc()
        for (const u of (await stores.log.load(record)).updates) Y.applyUpdate(d, u.data)
        return readRecord(d, account).fields.name
      }
      const end = Date.now() + 15_000
      while (!(await refused()) && (await stored()) !== 'written under alice\'s id' && Date.now() < end) await new Promise(r => setTimeout(r, 50))
      expect(await stored()).not.toBe('written under alice\'s id')
      expect(await refused()).toBe(true)
    } catch (e) {
      for (const [i, p] of instances.entries()) console.error(`instance ${i}:\n${p.output().slice(-3000)}`)
      throw e
    } finally {
      await stop()
    }
  }, 120_000)
})
