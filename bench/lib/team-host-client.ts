// The parent's handle on bench/team's device host: forks team-host.ts, pins it to a core, and sends
// typed requests (one at a time) over IPC.

import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { HostEvent, HostReply, HostRequest, LiveResult, SoakRequest, SoakResult, SyncResult } from './team-protocol.ts'
import { pinProcess, ROOT } from './processes.ts'
import type { HocusLiveRequest } from './hocuspocus-live.ts'

const HOST = fileURLToPath(new URL('./team-host.ts', import.meta.url))

type Plain<T> = T extends unknown ? Omit<T, 'op'> : never

export class DeviceHost {
  private readonly child: ChildProcess
  private next = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  /** called on the host's window events (live: the measured window starts and ends) */
  onWindow: (phase: 'start' | 'end') => void = () => {}

  private constructor (child: ChildProcess) {
    this.child = child
    child.on('message', (m: HostReply | HostEvent) => {
      if ('event' in m) { if (m.event === 'window') this.onWindow(m.phase); return }
      const w = this.waiting.get(m.id)
      this.waiting.delete(m.id)
      if (m.ok) w?.resolve(m.result); else w?.reject(new Error(`device host: ${m.error}`))
    })
    child.once('exit', code => { for (const w of this.waiting.values()) w.reject(new Error(`device host exited (${code})`)); this.waiting.clear() })
  }

  get pid (): number { return this.child.pid! }

  static async start (cpu: number | null): Promise<DeviceHost> {
    const child = fork(HOST, [], { cwd: ROOT, execArgv: [...(process.env.HOST_NODE_FLAGS?.split(' ').filter(f => f !== '') ?? []), '--import', 'tsx', '--max-old-space-size=6144', ...(process.env.HOST_PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.HOST_PROFILE_DIR}`])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', code => reject(new Error(`device host exited (${code}) before it was ready`)))
    })
    if (cpu !== null) pinProcess(child.pid!, cpu)
    return new DeviceHost(child)
  }

  private request<T> (r: HostRequest): Promise<T> {
    const id = this.next++
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ ...r, id })
    })
  }

  open (devices: Plain<Extract<HostRequest, { op: 'open' }>>['devices']): Promise<void> { return this.request({ op: 'open', devices }) }
  sync (keys: readonly string[]): Promise<SyncResult[]> { return this.request({ op: 'sync', keys }) }
  live (o: Plain<Extract<HostRequest, { op: 'live' }>>): Promise<LiveResult> { return this.request({ op: 'live', ...o }) }
  yfetch (url: string, names: readonly string[], concurrency: number): Promise<{ seconds: number, fetched: number }> { return this.request({ op: 'yfetch', url, names, concurrency }) }
  close (keys: readonly string[], remove = false): Promise<void> { return this.request({ op: 'close', keys, remove }) }
  soak (o: Plain<SoakRequest>): Promise<SoakResult> { return this.request({ op: 'soak', ...o }) }
  hocusLive (o: HocusLiveRequest): Promise<LiveResult & { connectSeconds: number }> { return this.request({ op: 'hocus-live', ...o }) }

  async exit (): Promise<void> {
    const exited = new Promise<void>(resolve => this.child.once('exit', () => resolve()))
    await this.request({ op: 'exit' }).catch(() => {})
    await exited
  }
}
