// A redis-server of the test's own on a free port (the machine's Redis is shared: a test that restarts
// Redis restarts this one), without persistence.

import { createServer } from 'node:net'
import { spawnUntil, type Spawned } from '../../tools/spawn.ts'

/** A port nothing listens on now. */
export const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port
    s.close(() => resolve(port))
  })
})

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** stops it (SIGKILL: as a crash) and starts it again on the same port, empty */
  restart (): Promise<void>
  stop (): Promise<void>
}

const spawnRedis = (port: number): Promise<Spawned> => spawnUntil({
  command: 'redis-server', args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  cwd: process.cwd(), env: { ...process.env }, ready: /Ready to accept connections/
}).catch(e => { throw new Error(`the cluster test runs a redis-server of its own (is redis-server installed?): ${(e as Error).message}`) })

export const startRedisServer = async (): Promise<RedisServer> => {
  const port = await freePort()
  let p = await spawnRedis(port)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    restart: async () => { await p.kill('SIGKILL'); p = await spawnRedis(port) },
    stop: () => p.kill('SIGKILL')
  }
}
