import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote } from '../../src/docs/record.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { int, withSeed } from '../helpers/seed.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const login = async (port: number, user: string): Promise<string> => {
  const r = await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user }) })
  return (await r.json() as { token: string }).token
}

describe('durability', () => {
  it('every update another client received before a SIGKILL is there after the restart', async () => {
    await withSeed(async gen => {
      const dir = mkdtempSync(join(tmpdir(), 'fieldsync-kill-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const env = { DATA_DIR: dir, CUSTOM_ENTITIES: '' }
      const name = 'account/acc0005'
      let written = 0
      for (let round = 0; round < 3; round++) {
        const server: ServerProcess = await startServerProcess(env)
        cleanups.push(() => server.kill('SIGKILL'))
        const wsUrl = `ws://127.0.0.1:${server.port}/sync`
        const token = await login(server.port, 'avery')
        const writerDoc = new Y.Doc()
        const observerDoc = new Y.Doc()
        const writer = provider(wsUrl, name, writerDoc, token)
        const observer = provider(wsUrl, name, observerDoc, token)
        cleanups.push(() => writer.destroy(), () => observer.destroy())
        await Promise.all([synced(writer), synced(observer)])
        const seenAtStart = observerDoc.getMap('notes').size
        // Everything written in earlier rounds and seen by an observer then is here now.
        expect(seenAtStart).toBeGreaterThanOrEqual(round === 0 ? 0 : 1)

        const killAfter = int(gen, 5, 120)
        let stop = false
        const writing = (async () => {
          while (!stop) {
            addNote(writerDoc, account, `r${round}-n${written++}`, { subject: 's', text: 'stream' }, { by: 'u-avery', at: new Date().toISOString() })
            await new Promise(r => setImmediate(r))
          }
        })()
        await until(() => observerDoc.getMap('notes').size >= seenAtStart + killAfter, `observer sees ${killAfter} new notes`, [observerDoc], 30_000)
        await server.kill('SIGKILL')
        const received = [...observerDoc.getMap('notes').keys()]
        stop = true
        await writing
        writer.destroy(); observer.destroy()

        const again = await startServerProcess(env)
        cleanups.push(() => again.kill('SIGKILL'))
        const checkDoc = new Y.Doc()
        const check = provider(`ws://127.0.0.1:${again.port}/sync`, name, checkDoc, await login(again.port, 'avery'))
        cleanups.push(() => check.destroy())
        await synced(check)
        const present = new Set(checkDoc.getMap('notes').keys())
        const lost = received.filter(k => !present.has(k))
        expect(lost, `lost after SIGKILL in round ${round}`).toEqual([])
        check.destroy()
        await again.kill('SIGTERM')
      }
    })
  })
})
