// Writer slots of a browser device store: slot N of database D is the Web Lock `fieldsync-writer:D:N`,
// held for the session's life. Web Locks are per origin like IndexedDB, and the browser lets go of a
// tab's locks when the tab closes or crashes.

export interface WebLockSlot {
  readonly slot: number
  release (): void
}

/** Holds the lock `name` if no one else does (the lock stays held until the returned function is called). */
const hold = (name: string): Promise<(() => void) | null> => new Promise((resolve, reject) => {
  navigator.locks.request(name, { mode: 'exclusive', ifAvailable: true }, lock => {
    if (lock === null) { resolve(null); return undefined }
    return new Promise<void>(release => { resolve(release) })
  }).catch(reject)
})

/**
 * The lowest slot below `slots` no other tab or worker holds, taken; null when all are held or the
 * browser has no Web Locks (then nothing can keep two tabs off one id, so none is kept).
 */
export const claimWebLockSlot = async (database: string, slots: number): Promise<WebLockSlot | null> => {
  if (typeof navigator === 'undefined' || navigator.locks === undefined) return null
  for (let slot = 0; slot < slots; slot++) {
    const release = await hold(`fieldsync-writer:${database}:${slot}`)
    if (release !== null) return { slot, release }
  }
  return null
}

/** The key under which an IndexedDB store's `meta` object store keeps the writer id of `user` in `slot`
 * (both IndexedDB stores keep them so). */
export const writerIdKey = (slot: number, user: string): string => `writer:${slot}:${user}`

/** Deletes, in `meta`, every kept writer id among `ids` (whatever its slot and user); then calls `done`. */
export const forgetWriterIdsIn = (meta: IDBObjectStore, ids: readonly number[], done: () => void): void => {
  const gone = new Set(ids)
  const r = meta.openCursor(IDBKeyRange.bound('writer:', 'writer;', false, true))
  r.onsuccess = () => {
    const c = r.result
    if (c === null) { done(); return }
    if (gone.has(c.value as number)) c.delete()
    c.continue()
  }
}
