// A LocalStore living in a Chromium page (the SDK bundle loaded, see browser.ts), driven from the test
// through page.evaluate: each call runs the store's method in the page, in the order the calls were made
// (a call not awaited still starts before the next). Bytes cross as arrays of numbers.

import type { Page } from 'playwright-core'
import type * as Sdk from '../../src/client/index.ts'
import type { LocalStore } from '../../src/client/store.ts'

export type BrowserStoreKind = 'IndexedDbLocalStore' | 'YIndexedDbLocalStore'

type Wire = unknown
type PageWin = typeof globalThis & { fieldsync: typeof Sdk, stores: Map<number, LocalStore>, wire: { enc: (v: unknown) => Wire, dec: (v: Wire) => unknown } }

/** Bytes to arrays of numbers and back, inside any value; self-contained, as it also runs in the page. */
const makeCodec = (): { enc: (v: unknown) => Wire, dec: (v: Wire) => unknown } => {
  const enc = (v: unknown): unknown => v instanceof Uint8Array
    ? { $bytes: Array.from(v) }
    : Array.isArray(v) ? v.map(enc) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)])) : v
  const dec = (v: unknown): unknown => Array.isArray(v)
    ? v.map(dec)
    : v !== null && typeof v === 'object' ? ('$bytes' in v ? Uint8Array.from((v as { $bytes: number[] }).$bytes) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, dec(x)]))) : v
  return { enc, dec }
}
const { enc, dec } = makeCodec()

let ids = 0

/** Every method of the port (a method added to LocalStore fails to compile here until it is listed). */
const METHODS = {
  meta: 1, setMeta: 1, records: 1, load: 1, put: 1, receive: 1, commit: 1, addPending: 1, pending: 1, pendingCount: 1, acknowledge: 1, remove: 1, setIndex: 1,
  index: 1, addInbox: 1, inbox: 1, removeInbox: 1, putBlob: 1, blob: 1, pendingBlobs: 1, blobUploaded: 1, claimWriterSlot: 1, writerId: 1, setWriterId: 1, forgetWriterIds: 1, close: 1, destroy: 1
} satisfies Record<keyof LocalStore, 1>

/** Opens `kind` under `name` in the page and gives a LocalStore whose every method runs there. */
export const openRemoteStore = async (page: Page, kind: BrowserStoreKind, name: string): Promise<LocalStore> => {
  if (!await page.evaluate(() => 'stores' in globalThis)) await page.evaluate(`globalThis.wire = (${makeCodec.toString()})(); globalThis.stores = new Map()`)
  const id = ids++
  await page.evaluate(async ({ id, kind, name }) => {
    const w = globalThis as PageWin
    w.stores.set(id, await w.fieldsync[kind].open(name))
  }, { id, kind, name })
  const call = async (method: keyof LocalStore, args: unknown[]): Promise<unknown> => dec(await page.evaluate(async ({ id, method, args }) => {
    const w = globalThis as PageWin
    const store = w.stores.get(id)!
    const f = store[method] as (...a: unknown[]) => Promise<unknown>
    return w.wire.enc(await f.apply(store, w.wire.dec(args) as unknown[]))
  }, { id, method, args: enc(args) }))
  return Object.fromEntries((Object.keys(METHODS) as (keyof LocalStore)[]).map(m => [m, (...args: unknown[]) => call(m, args)])) as unknown as LocalStore
}
