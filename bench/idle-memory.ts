// bench/idle-memory: resident memory of an idle server, fieldsync (built JavaScript, as production runs
// it; through tsx, as `npm start` and the tests run it) beside @y/websocket-server, in one run.
// Usage: npm run bench:idle-memory -- [idle seconds=45]
//
// Each fieldsync starts over a copy of one demo database seeded beforehand (a restarted server: seeding
// allocates heap that V8 returns only after tens of idle seconds). Memory is the process tree's RSS
// (tsx adds an esbuild service process, and its CLI a parent process), sampled every second.

import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnUntil, type Spawned } from '../tools/spawn.ts'
import { peer } from './lib/bench-servers.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const IDLE_SECONDS = Number(process.argv[2] ?? 45)
const LISTENING = /listening on http:\/\/[^:]+:(\d+)\//

/** Resident memory of one process, MiB (0 once it is gone). */
const rssOf = (pid: number): number => {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  } catch { return 0 }
}

/** The pids of a process and all its descendants, from /proc's parent links. */
const treeOf = (root: number): number[] => {
  const parent = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try { parent.set(Number(name), Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1].split(' ')[1])) } catch { /* exited meanwhile */ }
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid)
  return tree
}

interface Variant { readonly label: string, readonly command: string, readonly args: string[] }

const VARIANTS: readonly Variant[] = [
  { label: 'fieldsync: node dist/server/main.js', command: process.execPath, args: ['dist/server/main.js'] },
  { label: 'fieldsync: node --import tsx src/server/main.ts', command: process.execPath, args: ['--import', 'tsx', 'src/server/main.ts'] },
  { label: 'fieldsync: tsx src/server/main.ts (npm start)', command: join(ROOT, 'node_modules', '.bin', 'tsx'), args: ['src/server/main.ts'] }
]

const main = async (): Promise<void> => {
  console.log('building (npm run build) ...')
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })
  const seeded = mkdtempSync(join(tmpdir(), 'fieldsync-idle-'))
  const env = (dir: string): Record<string, string | undefined> => ({ ...process.env, PORT: '0', DATA_DIR: dir })
  const seeder = await spawnUntil({ command: process.execPath, args: ['dist/server/main.js'], cwd: ROOT, env: env(seeded), ready: LISTENING })
  await seeder.kill('SIGTERM')

  const dirs: string[] = []
  const started: Array<{ label: string, proc: Spawned }> = []
  try {
    for (const v of VARIANTS) {
      const dir = mkdtempSync(join(tmpdir(), 'fieldsync-idle-'))
      dirs.push(dir)
      cpSync(seeded, dir, { recursive: true })
      started.push({ label: v.label, proc: await spawnUntil({ command: v.command, args: v.args, cwd: ROOT, env: env(dir), ready: LISTENING }) })
    }
    started.push({ label: peer.label, proc: (await peer.start()).proc })
    const pids = started.map(s => s.proc.child.pid ?? 0)
    const atReady = pids.map(pid => treeOf(pid).reduce((sum, p) => sum + rssOf(p), 0))
    console.log(`all ${started.length} servers ready; idle for ${IDLE_SECONDS} s ...`)
    let last: Array<{ tree: number, main: number, processes: number }> = []
    for (let s = 0; s < IDLE_SECONDS; s++) {
      await new Promise(r => setTimeout(r, 1000))
      last = pids.map(pid => { const tree = treeOf(pid); return { tree: tree.reduce((sum, p) => sum + rssOf(p), 0), main: rssOf(pid), processes: tree.length } })
    }
    const peerIdle = last[last.length - 1].tree
    console.log(`\n${'server'.padEnd(50)} ${'at ready'.padStart(9)} ${'idle'.padStart(9)}  ${'vs peer'.padStart(7)}  processes (main process alone)`)
    started.forEach((s, i) => {
      const r = last[i]
      console.log(`${s.label.padEnd(50)} ${atReady[i].toFixed(0).padStart(5)} MiB ${r.tree.toFixed(0).padStart(5)} MiB  ${(r.tree / peerIdle).toFixed(2).padStart(6)}x  ${r.processes} (${r.main.toFixed(0)} MiB)`)
    })
  } finally {
    await Promise.all(started.map(s => s.proc.kill('SIGTERM')))
    for (const d of [seeded, ...dirs]) rmSync(d, { recursive: true, force: true })
  }
}

await main()
