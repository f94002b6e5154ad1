// An accepted /sync upgrade took its record's room twice (once to check the upgrade, once when the socket
// opened) and gave it back once when the socket closed. A user who may create records (alice, accounts)
// could then keep a room loaded for the idle delay for each new name, one websocket handshake each: the
// room of a record that does not exist is unloaded at once only when nobody uses it any more.

import { describe, expect, it } from 'vitest'
import type { DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { raw, startServer } from './support.ts'

const cleanups = useCleanups()

describe('/sync rooms of new names', () => {
  it('are unloaded once the socket that named them closes', async () => {
    const s = await startServer(cleanups)
    const names = [...Array(20).keys()].map(i => `account/room-uses-${i}` as DocName)
    for (const name of names) {
      const sock = await raw(cleanups, s, name, 'alice')
      expect(s.server.rooms.has(name)).toBe(true)
      sock.ws.close()
      await sock.closed
    }
    // The idle delay is 30 s: a room still loaded here was kept for it.
    await until(() => names.every(n => !s.server.rooms.has(n)), 'every room unloaded', [], 2000)
  })
})
