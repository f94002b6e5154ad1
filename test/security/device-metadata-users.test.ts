// A device's metadata carries its offline profile: the entities, rules and relationships it works with. The
// profile lists the users it applies to; every device of each of them used to receive that whole list (who
// else works under the profile). A device now gets its own user alone among the profile's users.

import { describe, expect, it } from 'vitest'
import { DeviceMessage, holdingsDigest } from '../../src/protocol/device-frames.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { rawDevice, startServer } from './support.ts'

const cleanups = useCleanups()

describe('device metadata', () => {
  it('names no other user of the device\'s offline profile', async () => {
    const s = await startServer(cleanups)
    const profile = s.security.model.profiles?.find(p => p.users.includes('u-alice'))
    // (The demo's field-sales profile is shared: otherwise this test would show nothing.)
    expect(profile?.users.length).toBeGreaterThan(1)
    const alice = await rawDevice(cleanups, s, 'alice', 'metadata-users-alice')
    alice.send({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: holdingsDigest([]), receiptSeq: 0 })
    await until(() => alice.frames.some(f => f.type === DeviceMessage.metadata), 'the metadata')
    const frame = alice.frames.find(f => f.type === DeviceMessage.metadata)
    const json = frame?.type === DeviceMessage.metadata ? frame.json : ''
    const meta = JSON.parse(json) as { profile: { id: string, users: string[], entities: Record<string, unknown> } }
    expect(meta.profile.id).toBe(profile!.id)
    expect(meta.profile.users).toEqual(['u-alice'])
    expect(Object.keys(meta.profile.entities)).toEqual(Object.keys(profile!.entities))
    for (const other of profile!.users.filter(u => u !== 'u-alice')) expect(json).not.toContain(`"${other}"`)
  })
})
