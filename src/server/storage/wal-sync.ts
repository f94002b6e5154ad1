// Durable commits without blocking the event loop. A commit made with synchronous=NORMAL is in the WAL,
// in the operating system's cache, when it returns; fdatasync of the WAL file on libuv's thread pool puts
// it on disk, and what the commit acknowledges waits for that sync. With synchronous=FULL the sync ran in
// the commit itself, on the one thread that also decides every update: a slow disk (tens of ms a sync on
// a shared machine) stopped everything for as long. One sync covers every commit made before it began,
// so commits made while a sync is under way share the next one.

import { open, type FileHandle } from 'node:fs/promises'

export class WalSync {
  private readonly path: string
  private handle: Promise<FileHandle> | null = null
  private inFlight: Promise<void> | null = null
  private queued: Promise<void> | null = null

  /** `dbFile`: the database file (its WAL is `<dbFile>-wal`). */
  constructor (dbFile: string) {
    this.path = `${dbFile}-wal`
  }

  /** Resolves once everything committed before the call is on disk (rejects if the sync failed). */
  durable (): Promise<void> {
    if (this.inFlight === null) return this.start()
    // The sync under way may have begun before the latest commit: one more after it covers that commit.
    const again = (): Promise<void> => { this.queued = null; return this.durable() }
    this.queued ??= this.inFlight.then(again, again)
    return this.queued
  }

  private start (): Promise<void> {
    const run = async (): Promise<void> => {
      this.handle ??= open(this.path, 'r')
      try {
        await (await this.handle).datasync()
      } catch (e) {
        this.handle = null // opened again by the next sync
        throw e
      }
    }
    const current = run().finally(() => { if (this.inFlight === current) this.inFlight = null })
    this.inFlight = current
    return current
  }

  /** Waits for the syncs under way and lets the file go. */
  async close (): Promise<void> {
    await Promise.allSettled([this.inFlight, this.queued])
    const handle = this.handle
    this.handle = null
    if (handle !== null) await handle.then(h => h.close(), () => {})
  }
}
