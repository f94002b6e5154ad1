// Every way of naming a record loads its room, and a loaded room stays IDLE_UNLOAD_MS (30 s) after its
// last peer left, whether or not the record exists. A user asking for records that do not exist (a
// /device step 1 or push, a refused /sync upgrade, an attachment download; erin may create nothing)
// made the server hold a room for each for 30 s: 20,000 asks over /device took 1.6 s here and held
// about 200 MB. A room that holds no record, that nobody uses any more, is unloaded at once.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { SyncStep } from '../../src/protocol/codes.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, rawDevice, startServer } from './support.ts'

const cleanups = useCleanups()
const N = 300
const names = (prefix: string): string[] => [...Array(N).keys()].map(i => `${prefix}${i}`)

describe('rooms of records that do not exist', () => {
  it('are not kept loaded once nobody uses them, however they were asked for', async () => {
    const s = await startServer(cleanups)
    const sv = Y.encodeStateVector(new Y.Doc())
    const loaded = (): number => s.server.rooms.loaded

    // erin (read only) over /device: each step 1 is answered with an evict.
    const erin = await rawDevice(cleanups, s, 'erin', 'empty-rooms-erin')
    let before = loaded()
    for (const n of names('nx-erin-')) erin.send({ type: DeviceMessage.sync, record: `incident/${n}`, step: SyncStep.step1, payload: sv })
    await until(() => erin.frames.filter(f => f.type === DeviceMessage.evict).length === N, 'every step 1 answered')
    expect(loaded() - before, 'rooms kept after /device asks').toBeLessThan(10)

    // alice (may create accounts) asks for the state of accounts that do not exist, and pushes nothing.
    const alice = await rawDevice(cleanups, s, 'alice', 'empty-rooms-alice')
    before = loaded()
    for (const n of names('nx-alice-')) alice.send({ type: DeviceMessage.sync, record: `account/${n}`, step: SyncStep.step1, payload: sv })
    await until(() => alice.frames.filter(f => f.type === DeviceMessage.sync && f.step === SyncStep.step2).length === N, 'every step 1 answered')
    expect(loaded() - before, 'rooms kept after a creator\'s asks').toBeLessThan(10)

    // Attachment downloads of records that do not exist.
    before = loaded()
    for (const n of names('nx-http-')) expect((await api(s, 'erin', `/api/records/incident/${n}/notes/x/attachment`)).status).toBe(404)
    expect(loaded() - before, 'rooms kept after attachment downloads').toBeLessThan(10)

    // /sync upgrades refused (403).
    before = loaded()
    const token = await s.token('erin')
    for (const n of names('nx-sync-').slice(0, 50)) {
      const status = await new Promise<number>(resolve => {
        const ws = new WebSocket(`${s.wsUrl}/incident/${n}?token=${token}`)
        ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
        ws.on('open', () => { resolve(101); ws.terminate() })
        ws.on('error', () => {})
      })
      expect(status).toBe(403)
    }
    expect(loaded() - before, 'rooms kept after refused upgrades').toBeLessThan(10)
  })
})
