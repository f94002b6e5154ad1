// Benchmark processes on a 2-core machine: the server pinned to one core (taskset), clients on the
// other; fieldsync's server with its event-loop delay reported (loop-delay-preload.mjs); /healthz
// polled for latency; CPU and memory of a process from /proc.

import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { get as httpGet } from 'node:http'
import { spawnUntil, type Spawned } from '../../tools/spawn.ts'
import { cpuSeconds, rssMiB } from './bench-servers.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const LOOP_DELAY = fileURLToPath(new URL('./loop-delay-preload.mjs', import.meta.url))
const PROFILE = fileURLToPath(new URL('./cpu-profile-preload.mjs', import.meta.url))

/** Whether processes can be pinned to cores (taskset and at least two cores). */
export const canPin = existsSync('/usr/bin/taskset') && availableParallelism() >= 2

/** Pins a running process, every thread of it, to `cpu` (no-op without taskset). */
export const pinProcess = (pid: number, cpu: number): void => {
  if (canPin) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
}

/** The command line that runs `args` with node, pinned to `cpu` when possible. */
export const pinned = (cpu: number | null, args: string[]): { command: string, args: string[] } =>
  cpu !== null && canPin ? { command: 'taskset', args: ['-c', String(cpu), process.execPath, ...args] } : { command: process.execPath, args }

export interface FieldsyncProcess {
  readonly proc: Spawned
  readonly pid: number
  readonly port: number
  readonly httpUrl: string
  readonly wsUrl: string
  /** the longest event-loop block (ms) the server reported since the last call */
  takeLoopDelay (): number
  /** the server's V8 heap in use, its array buffers, the V8 heap committed and of it the young generation's (MiB), as it last reported them */
  memory (): { heap: number, buffers: number, committed: number, young: number }
  /** a token of a user (demo login) */
  token (login: string): Promise<string>
}

/**
 * Starts `src/server/main.ts` over `dir` (demo mode: dev-login), pinned to `cpu`. With `profileFile`,
 * SIGUSR2 starts and stops a CPU profile written there (cpu-profile-preload.mjs).
 */
export const startFieldsync = async (o: { dir: string, cpu: number | null, env?: Record<string, string>, profileFile?: string }): Promise<FieldsyncProcess> => {
  // SERVER_NODE_FLAGS: extra node flags for the server (say --trace-gc, or --heapsnapshot-signal=SIGUSR1).
  const preload = [...(process.env.SERVER_NODE_FLAGS?.split(' ').filter(f => f !== '') ?? []), '--import', LOOP_DELAY, ...(o.profileFile === undefined ? [] : ['--import', PROFILE])]
  // The server from built JavaScript, as in production (`npm run build`, done by bench/team); BENCH_FROM_SOURCE=1: through tsx.
  const cmd = pinned(o.cpu, [...preload, ...(process.env.BENCH_FROM_SOURCE === '1' ? ['--import', 'tsx', 'src/server/main.ts'] : ['dist/server/main.js'])])
  const proc = await spawnUntil({
    ...cmd, cwd: ROOT, timeoutMs: 300_000,
    env: { ...process.env, PORT: '0', DATA_DIR: o.dir, CUSTOM_ENTITIES: '', ...(o.profileFile === undefined ? {} : { CPU_PROFILE_FILE: o.profileFile }), ...o.env },
    ready: /listening on http:\/\/[^:]+:(\d+)\//
  })
  let loopMax = 0
  let memory = { heap: NaN, buffers: NaN, committed: NaN, young: NaN }
  let partial = ''
  // Read what the server prints from now on (spawnUntil keeps only what came before it was ready).
  for (const s of [proc.child.stdout, proc.child.stderr]) {
    s?.removeAllListeners('data')
    s?.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        const m = /^loop-delay ([\d.]+)/.exec(line)
        const mem = /heap ([\d.]+) buffers ([\d.]+)(?: committed ([\d.]+))?(?: young ([\d.]+))?/.exec(line)
        if (mem !== null) memory = { heap: Number(mem[1]), buffers: Number(mem[2]), committed: Number(mem[3] ?? NaN), young: Number(mem[4] ?? NaN) }
        if (m !== null) loopMax = Math.max(loopMax, Number(m[1]))
        else if (line.trim() !== '') process.stderr.write(`[server] ${line}\n`)
      }
    })
  }
  const port = Number(proc.match[1])
  const httpUrl = `http://127.0.0.1:${port}`
  return {
    proc, pid: proc.child.pid!, port, httpUrl, wsUrl: `ws://127.0.0.1:${port}`,
    takeLoopDelay: () => { const m = loopMax; loopMax = 0; return m },
    memory: () => memory,
    token: async login => {
      const r = await fetch(`${httpUrl}/auth/dev-login`, { method: 'POST', body: JSON.stringify({ user: login }) })
      if (!r.ok) throw new Error(`dev-login ${login}: ${r.status}`)
      return (await r.json() as { token: string }).token
    }
  }
}

/** One GET on a new connection (no keep-alive: a kept connection the server closed meanwhile made
 * fetch wait for minutes), its body read; rejects on an error or after `timeoutMs`. */
const getOnce = (url: string, timeoutMs: number): Promise<void> => new Promise((resolve, reject) => {
  const req = httpGet(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, res => {
    res.resume()
    res.once('end', () => resolve())
    res.once('error', reject)
  })
  req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
  req.once('error', reject)
})

/**
 * Polls `GET /healthz` every `everyMs` (one request at a time, each on a new connection) and keeps the
 * longest answer. A request that fails is counted and tried again at once; its time counts into the
 * next answer's.
 */
export const pollHealth = (httpUrl: string, everyMs = 20): { stop: () => Promise<{ maxMs: number, p99Ms: number, polls: number, failed: number }> } => {
  const times: number[] = []
  let running = true
  let failed = 0
  const loop = (async () => {
    while (running) {
      const t0 = performance.now()
      for (;;) {
        try {
          await getOnce(`${httpUrl}/healthz`, 120_000)
          break
        } catch (e) {
          if (++failed > 100) throw e
        }
      }
      const ms = performance.now() - t0
      times.push(ms)
      if (ms < everyMs) await new Promise(resolve => setTimeout(resolve, everyMs - ms))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      const sorted = [...times].sort((a, b) => a - b)
      return { maxMs: sorted.at(-1) ?? 0, p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0, polls: times.length, failed }
    }
  }
}

export interface Measured<T> {
  readonly result: T
  readonly seconds: number
  /** the longest event-loop block the server reported meanwhile (ms) */
  readonly loopMs: number
  /** the slowest GET /healthz meanwhile (ms), and how many failed (tried again) */
  readonly healthMs: number
  readonly healthFailed: number
  /** server CPU time over wall time */
  readonly cpu: number
  /** the device process's CPU time over wall time (when its pid was given) */
  readonly devicesCpu: number
}

/** Runs `f` while watching the server: its longest event-loop block, the slowest /healthz, its CPU share. */
export const measure = async <T>(server: FieldsyncProcess, f: () => Promise<T>, devicesPid?: number): Promise<Measured<T>> => {
  server.takeLoopDelay()
  const health = pollHealth(server.httpUrl, 20)
  const cpu0 = cpuSeconds(server.pid)
  const dev0 = devicesPid === undefined ? 0 : cpuSeconds(devicesPid)
  const t0 = performance.now()
  const result = await f()
  const seconds = (performance.now() - t0) / 1000
  const cpu = (cpuSeconds(server.pid) - cpu0) / seconds
  const devicesCpu = devicesPid === undefined ? NaN : (cpuSeconds(devicesPid) - dev0) / seconds
  const h = await health.stop()
  await new Promise(resolve => setTimeout(resolve, 600)) // the server's last loop-delay report
  return { result, seconds, loopMs: server.takeLoopDelay(), healthMs: h.maxMs, healthFailed: h.failed, cpu, devicesCpu }
}

/** @y/websocket-server (in memory, no auth) holding the first `n` accounts of the dataset (peer-server.ts). */
export const startYwsPeer = async (n: number, cpu: number | null): Promise<{ proc: Spawned, url: string, pid: number }> => {
  const proc = await spawnUntil({ ...pinned(cpu, ['--import', 'tsx', 'bench/lib/peer-server.ts', String(n)]), cwd: ROOT, env: { ...process.env }, ready: /ready (\d+)/, timeoutMs: 300_000 })
  return { proc, url: `ws://127.0.0.1:${proc.match[1]}`, pid: proc.child.pid! }
}

export { cpuSeconds, rssMiB }
