// Runs the real server entry point (`src/server/main.ts`) as a child process.

import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  port: number
  output: () => string
  /** sends the signal and resolves when the process has exited */
  kill (signal: NodeJS.Signals): Promise<void>
}

/** Starts `node --import tsx src/server/main.ts` with `env`, resolving once it prints its URL. */
export const startServerProcess = (env: Record<string, string>, ms = 30_000): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
      cwd: root, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    const exited = new Promise<void>(r => child.once('exit', () => r()))
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server did not start within ${ms} ms:\n${out}`)) }, ms)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const m = /listening on http:\/\/[^:]+:(\d+)\//.exec(out)
      if (m === null) return
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
      resolve({
        child,
        port: Number(m[1]),
        output: () => out,
        kill: async signal => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); await exited }
      })
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`server exited with ${code} before listening:\n${out}`)) })
  })
