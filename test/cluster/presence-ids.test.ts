// Presence across instances: a connection may write only awareness client ids that no other connection
// uses (src/server/presence.ts), and on one instance that holds. A connection on another instance did not
// know the ids of the first instance's connections (their states were relayed to its members, never
// taken into its own awareness), so it could introduce one of them: nina on instance 1 wrote under alice's
// awareness client id (alice on instance 0), and everyone, alice included, saw alice's presence turn into
// nina's (or, with a removal after it, vanish). Two instances as child processes on one schema and the
// machine's Redis.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { until } from '../helpers/server.ts'
import { twoInstances } from '../helpers/cluster.ts'

const catalog = loadCatalog()
type State = { user?: { id?: string }, cursor?: number } | undefined

describe('presence client ids across instances', () => {
  it('a connection on one instance cannot write under an awareness client id a connection on another uses', async () => {
    const { instances, open, stop } = await twoInstances(catalog, 'fs-presence-ids')
    try {
      const [i0, i1] = instances.map(i => i.port)
      const alice = await open(i0, 'alice')
      const avery = await open(i0, 'avery')
      const nina = await open(i1, 'nina')
      const aliceId = alice.awareness.clientID
      alice.awareness.setLocalState({ cursor: 1 })
      const seenBy = (p: typeof avery, id: number): State => p.awareness.getStates().get(id) as State
      await until(() => seenBy(avery, aliceId)?.user?.id === 'u-alice' && seenBy(nina, aliceId)?.user?.id === 'u-alice', 'alice\'s presence on both instances', [], 10_000)
      // nina, on instance 1, writes a state under alice's awareness client id, newer than alice's
      const forged = new awarenessProtocol.Awareness(new Y.Doc())
      forged.clientID = aliceId
      forged.setLocalState({ cursor: 99 })
      forged.meta.set(aliceId, { clock: 1000, lastUpdated: Date.now() })
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, 1) // messageAwareness
      encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(forged, [aliceId]))
      nina.ws!.send(encoding.toUint8Array(enc))
      // then a state of her own, on the same socket: once avery has it, the forged one was decided before it
      nina.awareness.setLocalState({ cursor: 7 })
      await until(() => seenBy(avery, nina.awareness.clientID)?.user?.id === 'u-nina', 'nina\'s own presence on instance 0', [], 10_000)
      expect(seenBy(avery, aliceId)?.user?.id).toBe('u-alice')
      expect(seenBy(avery, aliceId)?.cursor).toBe(1)
      expect((alice.awareness.getLocalState() as State)?.cursor).toBe(1)
    } finally {
      await stop()
    }
  }, 60_000)
})
