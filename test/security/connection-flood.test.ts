// A client with no credentials keeps the server's accept queue full (new connections as fast as the
// server takes them). A turn after an accepted connection runs no paced work (pacing.ts), so a flood that
// never stops would stop every record's batches: at most MAX_ACCEPTING_TURNS such turns run in a row, and
// two people editing a record over y-websocket still get each other's edits while the flood goes on.
// Counted in connections the flood made, not in time.

import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { MAX_ACCEPTING_TURNS } from '../../src/server/pacing.ts'
import { syncedEditors, until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { ownedBy, startServer } from './support.ts'

const cleanups = useCleanups()
const account = buildCatalog().entities.get('account')!

/** Keeps `width` connections opening at once (each sends a bad request and is replaced when it ends) until stopped. */
const flood = (port: number, width: number): { made: () => number, stop: () => Promise<void> } => {
  let made = 0
  let running = true
  const open = new Set<Socket>()
  const one = (): void => {
    if (!running) return
    made++
    const socket = connect(port, '127.0.0.1')
    open.add(socket)
    socket.on('error', () => {})
    socket.on('data', () => {})
    socket.once('close', () => { open.delete(socket); one() })
    socket.end('GET /sync/account/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
  }
  for (let i = 0; i < width; i++) one()
  return {
    made: () => made,
    stop: async () => {
      running = false
      for (const s of open) s.destroy()
      await until(() => open.size === 0, 'flood sockets closed')
    }
  }
}

describe('a flood of new connections', () => {
  it('does not stop a record\'s edits from reaching its other editor', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const [alice, avery] = await syncedEditors(s, cleanups, name, ['alice', 'avery'])
    const f = flood(s.port, 64)
    cleanups.push(() => f.stop())
    await until(() => f.made() > 4 * 64, 'the flood under way')
    const from = f.made()
    setField(alice, account, 'telephone1', '+47 during the flood', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => readRecord(avery, account).fields.telephone1 === '+47 during the flood', 'the edit delivered during the flood', [avery], 30_000)
    const during = f.made() - from
    await f.stop()
    // The edit went through while the flood kept the queue full: a batch ran after at most
    // MAX_ACCEPTING_TURNS accepted connections (and a few turns of the pipeline), not when the flood ended.
    expect(during).toBeLessThan(MAX_ACCEPTING_TURNS * 20)
    // The server still answers, and the editors still converge.
    expect((await fetch(`http://127.0.0.1:${s.port}/healthz`)).status).toBe(200)
    setField(avery, account, 'telephone1', '+47 after', { by: 'u-avery', at: new Date().toISOString() })
    await until(() => readRecord(alice, account).fields.telephone1 === '+47 after', 'converged after', [alice])
  })
})
