// Runs the real server entry point (`src/server/main.ts`) as a child process.

import { fileURLToPath } from 'node:url'
import { spawnUntil, type Spawned } from '../../tools/spawn.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess extends Spawned {
  port: number
}

/** Starts `node --import tsx src/server/main.ts` with `env`, resolving once it prints its URL. */
export const startServerProcess = async (env: Record<string, string>): Promise<ServerProcess> => {
  const s = await spawnUntil({
    command: process.execPath, args: ['--import', 'tsx', 'src/server/main.ts'], cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env }, ready: /listening on http:\/\/[^:]+:(\d+)\//
  })
  return { ...s, port: Number(s.match[1]) }
}
