// Presence updates were relayed to every peer of the record as fast as one connection sent them: a
// read-only user (erin) sending states of 8 KiB in a loop made the server send each to every other viewer
// of the record (their send buffers fill, phones on slow links are closed with 4408; the server's output
// is the flood times the viewers). Presence updates are limited per connection like presence queries: a
// burst, then a steady rate; past it the connection closes with 4429.

import { describe, expect, it } from 'vitest'
import { CloseCode, MessageType } from '../../src/protocol/codes.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { startServer } from './support.ts'
import { awarenessFrame, rawSync } from './sync-socket.ts'

const cleanups = useCleanups()
const RECORD = 'account/acc0004' // alice's; erin (auditor) and avery (admin) read it

describe('presence updates', () => {
  it('are limited per connection: a flood closes the flooder with 4429 and reaches the viewers only in part', async () => {
    const s = await startServer(cleanups)
    const viewer = await rawSync(`${s.wsUrl}/${RECORD}?token=${await s.token('avery')}`, cleanups)
    let relayed = 0
    viewer.ws.on('message', (m: Buffer) => { if (m[0] === MessageType.awareness) relayed++ })
    const erin = await rawSync(`${s.wsUrl}/${RECORD}?token=${await s.token('erin')}`, cleanups)
    const padding = 'x'.repeat(7000)
    const sent = 1000
    for (let clock = 1; clock <= sent; clock++) erin.ws.send(awarenessFrame([{ client: 424242, clock, state: { padding, clock } }]))
    const closed = await Promise.race([erin.closed, new Promise<null>(resolve => setTimeout(() => resolve(null), 5000).unref())])
    expect(closed?.code).toBe(CloseCode.rateLimited)
    expect(relayed).toBeLessThan(sent / 2)
    // The viewer is still connected.
    expect(viewer.ws.readyState).toBe(viewer.ws.OPEN)
  })
})
