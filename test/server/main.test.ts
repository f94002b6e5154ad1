import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

describe('npm start (src/server/main.ts)', () => {
  it('outside demo mode starts a new organization with one administrator and prints its token once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-main-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const s: ServerProcess = await startServerProcess({ DATA_DIR: dir, DEMO: '0', CUSTOM_ENTITIES: '' })
    cleanups.push(() => s.kill('SIGKILL'))
    const token = /admin token[^\n]*\n(\S+)/.exec(s.output())?.[1]
    expect(token).toBeDefined()
    const model = await fetch(`http://127.0.0.1:${s.port}/api/admin/model`, { headers: { authorization: `Bearer ${token}` } })
    expect(model.status).toBe(200)
    expect((await model.json()).org.users.map((u: { login: string }) => u.login)).toEqual(['admin'])
    expect((await fetch(`http://127.0.0.1:${s.port}/auth/dev-login`, { method: 'POST', body: '{"user":"admin"}' })).status).toBe(404)
    await s.kill('SIGTERM')
    const again = await startServerProcess({ DATA_DIR: dir, DEMO: '0', CUSTOM_ENTITIES: '' })
    cleanups.push(() => again.kill('SIGKILL'))
    expect(again.output()).not.toMatch(/admin token/)
  })

  it('stops with a clear message on a bad setting', async () => {
    await expect(startServerProcess({ PORT: 'eighty' })).rejects.toThrow(/PORT must be a whole number/)
  })
})
