// Runs the real server entry point (`src/server/main.ts`) as a child process. With FIELDSYNC_STORE=pg a
// server given a DATA_DIR (and no DATABASE_URL) runs on PostgreSQL + Redis instead: a new schema of the
// test database, named in that folder so a restart over it finds the same (the run's end drops it).

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnUntil, type Spawned } from '../../tools/spawn.ts'
import { PG_URL, REDIS_URL, schemaName, withSchema } from './pg.ts'
import { withAdmin } from './pg.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess extends Spawned {
  port: number
}

/** The environment selecting PostgreSQL + Redis for a server process over `dir`. */
const clusterEnv = async (dir: string): Promise<Record<string, string>> => {
  const file = join(dir, 'pg-schema')
  let schema: string
  if (existsSync(file)) {
    schema = readFileSync(file, 'utf8').trim()
  } else {
    schema = schemaName('proc')
    await withAdmin(c => c.query(`CREATE SCHEMA ${schema}`))
    writeFileSync(file, schema)
  }
  return { DATABASE_URL: withSchema(PG_URL, schema), REDIS_URL, REDIS_PREFIX: schema }
}

/** Starts `node --import tsx src/server/main.ts` with `env`, resolving once it prints its URL. */
export const startServerProcess = async (env: Record<string, string>): Promise<ServerProcess> => {
  const store = process.env.FIELDSYNC_STORE === 'pg' && env.DATA_DIR !== undefined && env.DATABASE_URL === undefined ? await clusterEnv(env.DATA_DIR) : {}
  const s = await spawnUntil({
    command: process.execPath, args: ['--import', 'tsx', 'src/server/main.ts'], cwd: ROOT,
    env: { ...process.env, PORT: '0', ...store, ...env }, ready: /listening on http:\/\/[^:]+:(\d+)\//
  })
  return { ...s, port: Number(s.match[1]) }
}

/** Ends a cluster test: its instances killed, its store closed, its schema and folder removed. */
export const stopCluster = async (instances: readonly ServerProcess[], stores: { close (): Promise<void> } | undefined, schema: { dispose (): Promise<void> } | undefined, dir: string): Promise<void> => {
  await Promise.all(instances.map(i => i.kill('SIGKILL')))
  await stores?.close()
  await schema?.dispose()
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
}
