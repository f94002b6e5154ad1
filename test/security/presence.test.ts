// Issue 9, class 13: presence identity comes from the token, and nobody can squat another's client id.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { setField } from '../../src/docs/record.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { awarenessFrame, rawSync } from './sync-socket.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()
const RECORD = 'account/acc0004' // alice's; nina (same unit), erin (auditor) and avery (admin) read it

const start = async (): Promise<TestServer> => {
  const s = await startTestServer()
  cleanups.push(() => s.dispose())
  return s
}

const open = async (s: TestServer, login: string, doc = new Y.Doc()) => {
  const p = provider(s.wsUrl, RECORD, doc, await s.token(login))
  cleanups.push(() => p.destroy())
  await synced(p)
  return p
}

describe('presence identity and client ids (issue 9, class 13)', () => {
  it('sets the user of every presence state from the token, keeping only a short color', async () => {
    const s = await start()
    const observer = await open(s, 'avery')
    const alice = await open(s, 'alice')
    // alice poses as the administrator
    alice.awareness.setLocalState({ user: { id: 'u-avery', login: 'avery', name: 'Avery Admin', color: '#30bced', admin: true }, cursor: 7 })
    const id = alice.awareness.clientID
    await until(() => observer.awareness.getStates().get(id)?.cursor === 7, 'the observer sees alice\'s presence')
    expect(observer.awareness.getStates().get(id)).toEqual({ user: { id: 'u-alice', login: 'alice', name: 'Alice Adams (sales rep)', color: '#30bced' }, cursor: 7 })
    // a state with no user at all gets one too; a long "color" is not kept
    alice.awareness.setLocalState({ user: { color: 'x'.repeat(500) }, cursor: 8 })
    await until(() => observer.awareness.getStates().get(id)?.cursor === 8, 'the observer sees the new state')
    expect(observer.awareness.getStates().get(id)?.user).toEqual({ id: 'u-alice', login: 'alice', name: 'Alice Adams (sales rep)' })
    // a raw client cannot do better
    const erin = await rawSync(`${s.wsUrl}/${RECORD}?token=${await s.token('erin')}`, cleanups)
    erin.ws.send(awarenessFrame([{ client: 515151, clock: 1, state: { user: { id: 'u-bob', login: 'bob', name: 'Bob Baker (sales manager)' } } }]))
    await until(() => observer.awareness.getStates().has(515151), 'the observer sees erin\'s presence')
    expect(observer.awareness.getStates().get(515151)?.user).toEqual({ id: 'u-erin', login: 'erin', name: 'Erin Evans (auditor, read only)' })
  })

  it('refuses a client id bound to another principal\'s writes, so its writer keeps her presence', async () => {
    const s = await start()
    const observer = await open(s, 'avery')
    // alice writes under her doc's client id: the record binds it to her
    const doc = new Y.Doc()
    const first = await open(s, 'alice', doc)
    setField(doc, account, 'telephone1', '+47 5555', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => s.projection.row('account', 'acc0004')?.telephone1 === '+47 5555', 'alice\'s write committed')
    first.destroy()
    // nina claims alice's client id for herself while alice is away (then shows a marker of her own)
    const nina = await rawSync(`${s.wsUrl}/${RECORD}?token=${await s.token('nina')}`, cleanups)
    nina.ws.send(awarenessFrame([{ client: doc.clientID, clock: 1000, state: { squatter: true } }]))
    nina.ws.send(awarenessFrame([{ client: 626262, clock: 1, state: { marker: true } }]))
    await until(() => observer.awareness.getStates().has(626262), 'the observer sees nina\'s marker')
    expect(observer.awareness.getStates().get(doc.clientID)).toBeUndefined()
    // alice comes back under the same client id: her presence is relayed
    const again = await open(s, 'alice', doc)
    again.awareness.setLocalStateField('cursor', 3)
    await until(() => observer.awareness.getStates().get(doc.clientID)?.cursor === 3, 'the observer sees alice again')
    expect(observer.awareness.getStates().get(doc.clientID)?.user?.id).toBe('u-alice')
    expect(observer.awareness.getStates().get(doc.clientID)?.squatter).toBeUndefined()
  })

  it('refuses a client id another connection uses, even one of the same user', async () => {
    const s = await start()
    const observer = await open(s, 'avery')
    const alice = await open(s, 'alice')
    alice.awareness.setLocalStateField('cursor', 1)
    const id = alice.awareness.clientID
    await until(() => observer.awareness.getStates().get(id)?.cursor === 1, 'the observer sees alice')
    const second = await rawSync(`${s.wsUrl}/${RECORD}?token=${await s.token('alice')}`, cleanups)
    second.ws.send(awarenessFrame([{ client: id, clock: 10_000, state: { cursor: 99 } }, { client: id, clock: 10_001, state: null }]))
    second.ws.send(awarenessFrame([{ client: 737373, clock: 1, state: { marker: true } }]))
    await until(() => observer.awareness.getStates().has(737373), 'the observer sees the marker')
    expect(observer.awareness.getStates().get(id)?.cursor).toBe(1)
  })
})
