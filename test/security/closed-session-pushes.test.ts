// Pipelined pushes (device-session.ts, track): a push is handed to its record's pipeline and counted as
// waiting (MAX_WAITING_FRAMES, MAX_WAITING_BYTES) until it settles. The count lives in the session; the
// pushes live in the rooms. Before pipelining, a closed session's frames were skipped on its chain, so the
// bound held across reconnects. Now a device that fills its bound and reconnects leaves what it handed over
// in the records' pipelines: every connection adds up to 16 MiB more the server keeps (and works through).
// A record whose pipeline waits (here: its PostgreSQL write lock held, as by another instance's long batch)
// shows it. Runs on PostgreSQL only (FIELDSYNC_STORE=pg).

import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import type { DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { ON_PG } from '../helpers/test-store.ts'
import { PG_URL } from '../helpers/pg.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { idsOwnedBy, rawDevice, startServer } from '../security/support.ts'

const cleanups = useCleanups()

/** README, "Security": the bytes of frames one device may have waiting */
const MAX_WAITING_BYTES = 16 * 1024 * 1024

interface QueuedJob { readonly kind: string, readonly member: { readonly device?: string }, readonly update?: Uint8Array }

describe.skipIf(!ON_PG)('pushes of a closed device session', () => {
  it('are not kept past the session\'s bound: reconnecting does not let a device pile up more than MAX_WAITING_BYTES in a record\'s pipeline', async () => {
    const s = await startServer(cleanups)
    const name = `account/${idsOwnedBy(s, 'account', 'u-alice')[0]}` as DocName
    const room = await s.server.rooms.open(name)
    const queued = (): number => ((room as unknown as { inbox: QueuedJob[] }).inbox)
      .filter(j => j.kind === 'update' && j.member.device === 'closed-pushes-1').reduce((n, j) => n + (j.update?.length ?? 0), 0)
    // The record's write lock, held as another instance's batch would hold it.
    const locker = new pg.Client({ connectionString: PG_URL })
    await locker.connect()
    await locker.query('SELECT pg_advisory_lock(hashtextextended($1, 7146))', [name])
    try {
      const update = new Uint8Array(1024 * 1024 - 100).fill(7)
      const perSession = 12 // 12 MiB: within one session's bound
      for (let session = 0; session < 3; session++) {
        const d = await rawDevice(cleanups, s, 'alice', 'closed-pushes-1')
        const before = queued()
        let i = 0
        if (session === 0) {
          // The first push of all starts the record's batch, which waits for the lock with it, outside the
          // inbox. (A batch takes what is queued once its turn of the event loop comes: pacing.ts.)
          d.send({ type: DeviceMessage.push, record: name, id: ++i, update })
          await until(() => room.busy && queued() === 0, 'the record\'s first batch waiting for the lock')
        }
        for (; i < perSession; i++) d.send({ type: DeviceMessage.push, record: name, id: session * 100 + i + 1, update })
        await until(() => queued() - before >= (perSession - 1) * update.length, 'the session\'s pushes in the record\'s pipeline')
        const closed = new Promise(resolve => d.ws.once('close', resolve))
        d.ws.close()
        await closed
      }
      // Whatever the sessions handed over and did not settle, what the record keeps of this device once
      // they are closed stays within one session's bound.
      await until(() => queued() <= MAX_WAITING_BYTES, `the record's pipeline to keep at most ${MAX_WAITING_BYTES} bytes of a closed device's pushes (it keeps ${queued()})`, [], 3000)
      expect(queued()).toBeLessThanOrEqual(MAX_WAITING_BYTES)
    } finally {
      await locker.query('SELECT pg_advisory_unlock(hashtextextended($1, 7146))', [name])
      await locker.end()
      s.server.rooms.released(name)
    }
  })
})
