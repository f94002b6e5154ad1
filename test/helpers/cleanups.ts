// Cleanups a test registers (servers, sockets, files); they run after each test, last first.

import { afterEach } from 'vitest'

export type Cleanup = () => Promise<void> | void

/** The list to push cleanups onto; call once at the top of a test file. */
export const useCleanups = (): Cleanup[] => {
  const list: Cleanup[] = []
  afterEach(async () => { for (const c of list.splice(0).reverse()) await c() })
  return list
}
