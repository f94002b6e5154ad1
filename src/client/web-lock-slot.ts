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
