// The check step finds, for each item of an update whose parent (or origin) is another struct of the same
// update, that struct — and it scanned the other client's structs one by one to do it. An update whose one
// client holds many one-byte-clock structs (GC ranges, two bytes each) and whose other client holds as many
// items parented on the last of them cost the square of its size before anything was decided: 64,000 such
// pairs (under a megabyte, one frame) held the event loop for about 15 s, the server answering nobody. Any
// user who may open a record (erin, who may write nothing, opens every one) could send one frame after
// another. Found by hand-crafting updates; the structs of one client are ordered by clock, so a lookup is
// now a binary search.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import { startServerProcess } from '../helpers/process.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { rawAt } from './support.ts'

const cleanups = useCleanups()

/** An update (format v1) of `n` GC structs of client `b`, then `n` items of client `a` whose parent is b's
 * last struct (each item a one-value list entry); ~13 bytes a pair. */
const craft = (n: number, a: number, b: number): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint(e, n); encoding.writeVarUint(e, b); encoding.writeVarUint(e, 0)
  for (let i = 0; i < n; i++) { encoding.writeUint8(e, 0); encoding.writeVarUint(e, 1) }
  encoding.writeVarUint(e, n); encoding.writeVarUint(e, a); encoding.writeVarUint(e, 0)
  for (let i = 0; i < n; i++) {
    // info 8: content "any", no origins, parent given: an id (0), b's last clock; one value, true (120)
    encoding.writeUint8(e, 8); encoding.writeVarUint(e, 0); encoding.writeVarUint(e, b); encoding.writeVarUint(e, n - 1)
    encoding.writeVarUint(e, 1); encoding.writeUint8(e, 120)
  }
  encoding.writeVarUint(e, 0) // no deletions
  return encoding.toUint8Array(e)
}

describe('an update whose structs refer to each other', () => {
  it('costs its size, not its square: the server goes on answering while it is checked', async () => {
    // A server process of its own: while it works, this test's event loop is free to ask it things.
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-structs-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const server = await startServerProcess({ DATA_DIR: dir, CUSTOM_ENTITIES: '' })
    cleanups.push(() => server.kill('SIGKILL'))
    const base = `http://127.0.0.1:${server.port}`
    const login = await fetch(`${base}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"erin"}' })
    const { token } = await login.json() as { token: string }
    const sock = await rawAt(cleanups, `ws://127.0.0.1:${server.port}/sync/account/acc0001?token=${token}`)
    await sock.received(m => m[0] === 0 && m[1] === 0)
    const update = craft(64_000, 0x7100001, 0x7100002)
    expect(update.length).toBeLessThan(1024 * 1024)
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, update)
    // erin (who may write nothing) sends it; then the server is asked how it is, and must answer. (Before,
    // it answered nobody for about 15 s: a lookup per item scanned the other client's structs.)
    await new Promise<void>((resolve, reject) => sock.ws.send(encoding.toUint8Array(e), err => err === undefined || err === null ? resolve() : reject(err)))
    // (The first answer may come before the frame is read; the next ones cannot.)
    for (let i = 0; i < 3; i++) {
      const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) })
      expect(health.status).toBe(200)
    }
    expect(sock.ws.readyState).toBe(1)
  }, 120_000)
})
