// Starts a child process and resolves once its output matches a pattern (tests and benchmarks use it).

import { spawn, type ChildProcess } from 'node:child_process'

export interface Spawned {
  child: ChildProcess
  /** the match of `ready` in the output */
  match: RegExpExecArray
  output: () => string
  /** sends the signal (if still running) and resolves once the process has exited */
  kill (signal: NodeJS.Signals): Promise<void>
}

export interface SpawnOptions {
  command: string
  args: string[]
  cwd: string
  env: Record<string, string | undefined>
  ready: RegExp
  timeoutMs?: number
}

export const spawnUntil = (o: SpawnOptions): Promise<Spawned> =>
  new Promise((resolve, reject) => {
    const child = spawn(o.command, o.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let ready = false
    const exited = new Promise<void>(r => child.once('exit', () => r()))
    const ms = o.timeoutMs ?? 30_000
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${o.command} ${o.args.join(' ')} not ready within ${ms} ms:\n${out}`)) }, ms)
    const onOutput = (chunk: Buffer): void => {
      out += chunk.toString()
      if (ready) return
      const match = o.ready.exec(out)
      if (match === null) return
      ready = true
      clearTimeout(timer)
      resolve({
        child, match, output: () => out,
        kill: async signal => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); await exited }
      })
    }
    child.stdout?.on('data', onOutput)
    child.stderr?.on('data', onOutput)
    child.once('exit', code => { clearTimeout(timer); if (!ready) reject(new Error(`${o.command} exited with ${code} before it was ready:\n${out}`)) })
  })
