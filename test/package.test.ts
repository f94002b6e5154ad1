// fieldsync as its users consume it: `npm run build` into a package that a consumer app installs, whose
// `fieldsync/client` and `fieldsync/protocol` import at run time, type-check in the consumer's strict
// `tsc`, bundle for the browser without Node-only modules, and whose built server runs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { ROOT } from './helpers/process.ts'
import { spawnUntil } from '../tools/spawn.ts'

const run = promisify(execFile)
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

interface Exports { readonly [path: string]: string | { readonly types: string, readonly import: string } }
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string, exports: Exports }

let app: string
let pkg: string

beforeAll(async () => {
  // A consumer app with fieldsync in its node_modules, as `npm install ../fieldsync` would lay it out
  // (package.json + the build output; fieldsync's own dependencies resolve from its node_modules).
  app = mkdtempSync(join(tmpdir(), 'fieldsync-consumer-'))
  pkg = join(app, 'node_modules', manifest.name)
  mkdirSync(pkg, { recursive: true })
  copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'))
  await run('npm', ['run', 'build', '--', '--outDir', join(pkg, 'dist')], { cwd: ROOT })
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
})

afterAll(() => { if (app !== undefined) rmSync(app, { recursive: true, force: true }) })

describe('the fieldsync package', () => {
  it('builds every file its exports point at, JavaScript and declarations', () => {
    const targets = Object.values(manifest.exports).flatMap(t => typeof t === 'string' ? [t] : [t.types, t.import])
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(['./client', './protocol']))
    expect(targets.filter(t => !existsSync(join(pkg, t)))).toEqual([])
  })

  it('imports fieldsync/client and fieldsync/protocol in a consumer at run time, and nothing unexported', async () => {
    writeFileSync(join(app, 'app.mjs'), `
      const client = await import('fieldsync/client')
      const sqlite = await import('fieldsync/client/sqlite')
      const protocol = await import('fieldsync/protocol')
      let internal = 'importable'
      try { await import('fieldsync/dist/server/app.js') } catch (e) { internal = e.code }
      console.log(JSON.stringify({ client: Object.keys(client), sqlite: Object.keys(sqlite), protocol: Object.keys(protocol),
        open: typeof client.FieldsyncDevice.open, readRevoked: protocol.CloseCode.readRevoked, internal }))`)
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: app })
    const seen = JSON.parse(stdout) as Record<string, unknown>
    expect(seen.client).toEqual(expect.arrayContaining(['FieldsyncDevice', 'IndexedDbLocalStore', 'OfflineRefusal', 'ViewError', 'SearchError']))
    expect(seen.sqlite).toEqual(['SqliteLocalStore'])
    expect(seen.protocol).toEqual(expect.arrayContaining(['CloseCode', 'Reason', 'DeviceMessage', 'encodeDeviceFrame', 'decodeDeviceFrame', 'encodeSyncUpdate']))
    expect(seen).toMatchObject({ open: 'function', readRevoked: 4403, internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED' })
  })

  it('type-checks a strict consumer against the declarations (and they are real types, not any)', async () => {
    writeFileSync(join(app, 'app.ts'), `
      import { FieldsyncDevice, type DeviceOptions, type InboxItem, type LocalStore } from 'fieldsync/client'
      import { SqliteLocalStore } from 'fieldsync/client/sqlite'
      import { CloseCode, decodeDeviceFrame, Reason, type Receipt } from 'fieldsync/protocol'
      export const store: LocalStore = new SqliteLocalStore(':memory:')
      export const open = (opts: DeviceOptions): Promise<FieldsyncDevice> => FieldsyncDevice.open(opts)
      export const pending = async (d: FieldsyncDevice): Promise<number> => d.unsyncedCount()
      export const inbox = async (d: FieldsyncDevice): Promise<InboxItem[]> => d.inbox()
      export const revoked: 4403 = CloseCode.readRevoked
      export const refused: Receipt['reason'] = Reason.entityReadOnly
      export const frame = (b: Uint8Array): string => decodeDeviceFrame(b).type.toString()
      // @ts-expect-error a misspelt method does not type-check, so FieldsyncDevice is not any
      export const typo = (d: FieldsyncDevice): unknown => d.unsyncedCont()
    `)
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], noEmit: true, skipLibCheck: true },
      files: ['app.ts']
    }))
    // skipLibCheck keeps this fast (checking yjs's declarations takes seconds) but would let an import
    // inside our declarations that does not resolve pass silently as any: the resolution trace shows it.
    const out = await run(process.execPath, [TSC, '-p', '.', '--traceResolution'], { cwd: app, maxBuffer: 64 * 1024 * 1024 })
      .then(r => r.stdout, (e: { stdout: string }) => e.stdout)
    const unresolved = [...out.matchAll(/Module name '([^']+)' was not resolved/g)].map(m => m[1]).filter(m => !m.startsWith('@typescript/lib-'))
    expect(unresolved).toEqual([])
    expect(out.split('\n').filter(l => / error TS\d+/.test(l))).toEqual([])
  })

  it('bundles fieldsync/client for the browser without Node-only modules', async () => {
    writeFileSync(join(app, 'browser.mjs'), "export { FieldsyncDevice, IndexedDbLocalStore } from 'fieldsync/client'")
    const out = await build({ entryPoints: [join(app, 'browser.mjs')], absWorkingDir: app, bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' })
    const inputs = Object.keys(out.metafile.inputs)
    expect(inputs.some(i => i.includes('/dist/client/device.js'))).toBe(true)
    expect(inputs.filter(i => /better-sqlite3|sqlite-store|\/dist\/server\/|^node:/.test(i))).toEqual([])
  })

  it('runs the server from the built JavaScript', async () => {
    const server = await spawnUntil({
      command: process.execPath, args: [join(pkg, 'dist', 'server', 'main.js')], cwd: ROOT,
      env: { ...process.env, PORT: '0', DEMO: '0', DATA_DIR: join(app, 'data') },
      ready: /admin token[^\n]*:\n(\S+)\n[\s\S]*listening on http:\/\/[^:]+:(\d+)\//
    })
    try {
      const [, token, port] = server.match
      const model = await fetch(`http://127.0.0.1:${port}/api/admin/model`, { headers: { authorization: `Bearer ${token}` } })
      expect(model.status).toBe(200)
      expect((await model.json() as { org: { users: unknown[] } }).org.users).toHaveLength(1)
    } finally {
      await server.kill('SIGTERM')
    }
    expect(server.child.exitCode).toBe(0)
  })
})
