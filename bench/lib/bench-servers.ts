// The two servers of bench/malformed as child processes: fieldsync (main.ts, temp DATA_DIR, demo token)
// and @y/websocket-server (server.js, in memory, no auth); /proc figures; optional CPU profile window.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:net'
import { spawnUntil, type Spawned } from '../../tools/spawn.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PRELOAD = fileURLToPath(new URL('./cpu-profile-preload.mjs', import.meta.url))

export interface Running {
  readonly proc: Spawned
  /** the websocket URL of record account/acc0001 (token included) */
  readonly url: string
  /** bytes the server wrote to stdout and stderr after it was ready (logging is part of its cost) */
  logged (): number
  /** with a profile file: starts the profiler; call the result to stop it and wait for the file */
  profile (): () => Promise<void>
}

export interface Target {
  readonly label: string
  readonly short: string
  start (profileFile?: string): Promise<Running>
}

const profiled = (profileFile: string | undefined): { args: string[], env: Record<string, string> } =>
  profileFile === undefined ? { args: [], env: {} } : { args: ['--import', PRELOAD], env: { CPU_PROFILE_FILE: profileFile } }

const running = (proc: Spawned, url: string, profileFile: string | undefined): Running => {
  // Count what the server logs instead of keeping it (the peer logs a stack trace per bad frame).
  let logged = 0
  for (const s of [proc.child.stdout, proc.child.stderr]) {
    s?.removeAllListeners('data')
    s?.on('data', (b: Buffer) => { logged += b.length })
  }
  return {
    proc, url, logged: () => logged,
    profile: () => {
      if (profileFile === undefined) return async () => {}
      proc.child.kill('SIGUSR2')
      return async () => {
        rmSync(profileFile, { force: true })
        proc.child.kill('SIGUSR2')
        const deadline = Date.now() + 30_000
        while (Date.now() < deadline) {
          try { JSON.parse(readFileSync(profileFile, 'utf8')); return } catch { await new Promise(r => setTimeout(r, 100)) }
        }
        throw new Error(`no profile in ${profileFile}`)
      }
    }
  }
}

export const ours: Target = {
  label: 'fieldsync (auth, checks, SQLite FULL)',
  short: 'fieldsync',
  start: async profileFile => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-'))
    const p = profiled(profileFile)
    const proc = await spawnUntil({
      command: process.execPath, args: [...p.args, '--import', 'tsx', 'src/server/main.ts'], cwd: ROOT,
      env: { ...process.env, ...p.env, PORT: '0', DATA_DIR: dir, CUSTOM_ENTITIES: '' }, ready: /listening on http:\/\/[^:]+:(\d+)\//
    })
    proc.child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const port = Number(proc.match[1])
    const r = await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user: 'avery' }) })
    const { token } = await r.json() as { token: string }
    return running(proc, `ws://127.0.0.1:${port}/sync/account/acc0001?token=${token}`, profileFile)
  }
}

/** A port that was free a moment ago (server.js takes PORT, not 0). */
const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const a = s.address()
    s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
  })
})

export const peer: Target = {
  label: '@y/websocket-server 0.1.1 (in memory, no auth)',
  short: 'peer',
  start: async profileFile => {
    const p = profiled(profileFile)
    const proc = await retryOnce(async () => spawnUntil({
      command: process.execPath, args: [...p.args, 'node_modules/@y/websocket-server/src/server.js'], cwd: ROOT,
      env: { ...process.env, ...p.env, HOST: '127.0.0.1', PORT: String(await freePort()) }, ready: /running at '[^']*' on port (\d+)/
    }))
    return running(proc, `ws://127.0.0.1:${proc.match[1]}/account/acc0001`, profileFile)
  }
}

/** Another free port can be taken between our check and the child's listen: try once more. */
const retryOnce = async <T>(f: () => Promise<T>): Promise<T> => {
  try { return await f() } catch { return await f() }
}

/** Current and peak resident memory of a process, MiB. */
export const rssMiB = (pid: number): { now: number, peak: number } => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN)
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
}

/** CPU seconds (user + system) a process has used so far. */
export const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (100/s on Linux)
}
