// Nothing outside src/server/storage/ touches SQL, and the core knows storage only by its ports: only
// main.ts (the one place adapters are wired) imports a SQLite adapter. The device's local SQLite store
// (src/client/sqlite-store.ts, with its writer-slot locks in sqlite-store-slots.ts) is a device adapter of
// its own, outside the server.

import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap(e =>
  e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])

const STORAGE = join('src', 'server', 'storage')
const DEVICE_STORE = [join('src', 'client', 'sqlite-store.ts'), join('src', 'client', 'sqlite-store-slots.ts')]
const WIRING = join('src', 'server', 'main.ts')
const outside = sources('src').filter(f => !f.startsWith(STORAGE + '/') && !DEVICE_STORE.includes(f))

const SQL = /\b(SELECT\s[^'"`]*\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIEW)|PRAGMA\s)/i

describe('the storage boundary', () => {
  it('keeps SQL and the SQLite and PostgreSQL drivers inside src/server/storage', () => {
    const found = outside.flatMap(f => {
      const text = readFileSync(f, 'utf8')
      return [
        ...(/from\s+['"]better-sqlite3['"]/.test(text) ? [`${f} imports better-sqlite3`] : []),
        ...(/from\s+['"]pg['"]/.test(text) ? [`${f} imports pg`] : []),
        ...text.split('\n').flatMap((line, i) => SQL.test(line) && !/^\s*(\/\/|\*)/.test(line) ? [`${f}:${i + 1}: ${line.trim().slice(0, 80)}`] : [])
      ]
    })
    expect(found).toEqual([])
  })

  it('lets only main.ts import a storage adapter; the rest of the server imports ports', () => {
    const found = outside.filter(f => f !== WIRING).flatMap(f =>
      [...readFileSync(f, 'utf8').matchAll(/from\s+['"]([^'"]*storage\/(sqlite|pg-)[^'"]*)['"]/g)].map(m => `${f} imports ${m[1]}`))
    expect(found).toEqual([])
  })
})
