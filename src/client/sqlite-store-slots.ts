// Writer slots of a Node device store: slot N of store file F is held by holding an exclusive SQLite lock
// on the small database F.writer-N for the session's life. The lock is an OS file lock (fcntl), so the
// kernel lets go of it when its process dies however it dies (kill -9 included): no pid to check (pids are
// reused), no lease to renew (a process paused past its lease, a laptop asleep, would still be writing
// while another took its id). SQLite also makes the lock hold between two connections of one process.

import { readdirSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import Database from 'better-sqlite3'

export interface FileSlot {
  readonly slot: number
  /** the slot's previous holder did not let go of it through release() (it crashed or was killed) */
  readonly endedUnclean: boolean
  /** notes a clean end and lets go of the slot */
  release (): void
}

const lockFile = (file: string, slot: number): string => `${file}.writer-${slot}`

/** Takes slot `slot` of `file` now, or null when another connection (of any process) holds it. */
const take = (file: string, slot: number): FileSlot | null => {
  const db = new Database(lockFile(file, slot), { timeout: 0 })
  try {
    // In exclusive locking mode a connection keeps the lock of its first write until it closes.
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('synchronous = FULL')
    db.exec('BEGIN EXCLUSIVE')
  } catch (e) {
    db.close()
    if ((e as { code?: string }).code === 'SQLITE_BUSY') return null
    throw e
  }
  db.exec('CREATE TABLE IF NOT EXISTS holder (k INTEGER PRIMARY KEY CHECK (k = 1), clean INTEGER NOT NULL)')
  const previous = db.prepare<[], { clean: number }>('SELECT clean FROM holder WHERE k = 1').get()
  db.prepare('INSERT INTO holder (k, clean) VALUES (1, 0) ON CONFLICT (k) DO UPDATE SET clean = 0').run()
  db.exec('COMMIT')
  return {
    slot,
    endedUnclean: previous !== undefined && previous.clean === 0,
    release: () => {
      if (!db.open) return
      db.prepare('UPDATE holder SET clean = 1 WHERE k = 1').run()
      db.close()
    }
  }
}

/** The lowest slot below `slots` no one holds, taken; null when all are held. */
export const claimFileSlot = (file: string, slots: number): FileSlot | null => {
  for (let slot = 0; slot < slots; slot++) {
    const held = take(file, slot)
    if (held !== null) return held
  }
  return null
}

/** Removes the slots' lock files of `file` (the store is being deleted). */
export const removeSlotFiles = (file: string): void => {
  const prefix = `${basename(file)}.writer-`
  for (const f of readdirSync(dirname(file))) if (f.startsWith(prefix)) rmSync(join(dirname(file), f), { force: true })
}
