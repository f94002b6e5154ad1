// The page side of bench/local-stores (bundled by esbuild, run in Chromium): the browser stores and the
// measurements, over the same records the Node side writes into SQLite (bench/lib/dataset.ts).

import { IndexedDbLocalStore } from '../../src/client/indexeddb-store.ts'
import { YIndexedDbLocalStore } from '../../src/client/y-indexeddb-store.ts'
import { initialSync, coldStart } from './local-stores-measure.ts'

const open = (kind: string): Promise<IndexedDbLocalStore | YIndexedDbLocalStore> =>
  kind === 'y-indexeddb' ? YIndexedDbLocalStore.open('bench') : IndexedDbLocalStore.open('bench')

export const write = (kind: string, n: number): Promise<number> => initialSync(() => open(kind), n)
export const cold = (kind: string): Promise<{ list: number, loadAll: number, records: number }> => coldStart(() => open(kind))
export const usage = async (): Promise<number> => (await navigator.storage.estimate()).usage ?? 0
