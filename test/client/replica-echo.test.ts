// What the server sends back of a held record's open document: this device's own edits (the changes
// after its cursor) are neither stored nor indexed again; anything new is, deletions and what waits for
// a missing dependency included.

import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { Replica } from '../../src/client/replica.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'

it('stores a received change of an open record only when it brings something the document lacks', async () => {
  const store = new SqliteLocalStore(':memory:')
  const r = await Replica.load(store, () => {})
  const server = new Y.Doc()
  server.transact(() => { server.getMap('meta').set('entity', 'account'); server.getMap('fields').set('name', 'A') })
  await r.receive('account/a', Y.encodeStateAsUpdate(server))
  await r.finishCycle(1, 0, true)
  const doc = await r.open('account/a')
  doc.getMap('fields').set('name', 'mine') // a local edit: stored, pending
  await r.settled()
  const rows = (await store.load('account/a')).length
  expect(rows).toBe(2)

  // The server took the edit and sends the record's changes after the cursor: the edit itself.
  const atCursor = Y.encodeStateVector(server)
  Y.applyUpdate(server, Y.encodeStateAsUpdate(doc, atCursor))
  await r.receive('account/a', Y.encodeStateAsUpdate(server, atCursor))
  await r.finishCycle(2, 0, true)
  expect((await store.load('account/a')).length).toBe(rows)

  // A change from elsewhere: stored, and indexed.
  const before = Y.encodeStateVector(server)
  server.getMap('fields').set('city', 'Oslo')
  await r.receive('account/a', Y.encodeStateAsUpdate(server, before))
  await r.finishCycle(3, 0, true)
  expect((await store.load('account/a')).length).toBe(rows + 1)
  expect((await store.index('account'))[0].values).toMatchObject({ name: 'mine', city: 'Oslo' })

  // A deletion alone is new too.
  server.getMap('fields').delete('city')
  const deletion = Y.encodeStateAsUpdate(server, Y.encodeStateVector(server)) // no structs: its delete set only
  await r.receive('account/a', deletion)
  await r.finishCycle(4, 0, true)
  expect((await store.load('account/a')).length).toBe(rows + 2)
  expect(doc.getMap('fields').has('city')).toBe(false)
  expect((await store.index('account'))[0].values.city).toBeUndefined()

  // A change whose dependency has not arrived waits in the document: stored, so that it is not lost.
  const other = new Y.Doc()
  Y.applyUpdate(other, Y.encodeStateAsUpdate(server))
  const sv = Y.encodeStateVector(other)
  other.getMap('fields').set('phone', '1')
  const first = Y.encodeStateAsUpdate(other, sv)
  const sv2 = Y.encodeStateVector(other)
  other.getMap('fields').set('phone', '2')
  await r.receive('account/a', Y.encodeStateAsUpdate(other, sv2)) // the second without the first
  await r.finishCycle(5, 0, true)
  expect((await store.load('account/a')).length).toBe(rows + 3)
  await r.receive('account/a', first)
  await r.finishCycle(6, 0, true)
  expect(doc.getMap('fields').get('phone')).toBe('2')
  const again = new Y.Doc()
  for (const u of await store.load('account/a')) Y.applyUpdate(again, u)
  expect(again.getMap('fields').toJSON()).toEqual(doc.getMap('fields').toJSON())
  await r.close()
})
