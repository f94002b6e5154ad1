// What a connection may have waiting on the server is bounded: a /sync peer with more messages queued in a
// record's pipeline than it takes is closed (4429) and nothing else is affected. (A device's session has
// the same bound on its frames, MAX_WAITING_FRAMES; a session here takes pushes as fast as they come.)

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { MAX_WAITING_PER_PEER, type RoomMember } from '../../src/server/room.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { open, ownedBy, startServer, TIME } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

describe('incoming queues', () => {
  it('close a /sync peer with more messages waiting in a record\'s pipeline than the bound, and only it', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const watcher = await open(cleanups, s, name, 'avery')
    const room = s.server.rooms.get(name)
    let closed: number | undefined
    const flooder: RoomMember = { ...recordingMember('u-erin', { keep: false }), close: code => { closed ??= code } }
    room.join(flooder)
    const sv = Y.encodeStateVector(new Y.Doc())
    // All at once, before the pipeline takes any.
    for (let i = 0; i < MAX_WAITING_PER_PEER.messages + 10; i++) room.requestState(flooder, sv)
    expect(closed).toBe(CloseCode.rateLimited)
    room.leave(flooder)
    await room.settled()
    // The record and its other connections carry on.
    const { doc } = await open(cleanups, s, name, 'alice')
    setField(doc, account, 'telephone1', '+47 after the flood', { by: 'u-alice', at: TIME })
    await until(() => readRecord(watcher.doc, account).fields.telephone1 === '+47 after the flood', 'the watcher gets a later edit', [watcher.doc])
  })
})
