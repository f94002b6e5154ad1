// The device holdings port: which principal owns a device id, the cursor it stored, which records it
// holds (confirmed by a finished cycle) or may hold (sent or evicted, not confirmed), and the receipt
// offer made to it. Synchronous: asked on every commit for every open device session and before the
// frames that follow a hello; an adapter over the network keeps an open device's holdings in memory.
// Adapters pass test/server/ports/holdings-suite.ts.

import type { DocName } from '../../ids.ts'

export interface DeviceHoldings {
  /** Registers the device to `principal` on first use, and notes it as the principal's newest to say
   * hello; false when it belongs to another principal. */
  claimDevice (device: string, principal: string): boolean
  /** Forgets, with what they hold, the devices of `principal` beyond the `keep` that said hello most
   * recently, except those in `except` (connected now); returns the ids forgotten. */
  retireDevices (principal: string, keep: number, except: ReadonlySet<string>): string[]
  /** The cursor the server last told the device to store (0 when none). */
  deviceCursor (device: string): number
  /** Whether the device must be told its whole scope (the server forgot what it holds). */
  needsScope (device: string): boolean
  /** The receipt mark sent when the device was offered its user's open items, or null when not yet. */
  offerMark (device: string): number | null
  setOfferMark (device: string, mark: number): void
  /** Records a finished cycle confirmed the device holds. */
  held (device: string): Set<DocName>
  /** Whether a finished cycle confirmed the device holds `doc`. */
  holds (device: string, doc: DocName): boolean
  /** Records the device may hold but no finished cycle confirmed. */
  unconfirmed (device: string): Set<DocName>
  /** Confirms records as held (their whole state is on the device). */
  hold (device: string, docs: Iterable<DocName>): void
  /** Notes records as perhaps held (sent in a cycle not finished yet); confirmed ones stay confirmed. */
  mayHold (device: string, docs: Iterable<DocName>): void
  /** Marks held records as perhaps held (an evict was sent; the socket may drop before it arrives). */
  unsure (device: string, docs: Iterable<DocName>): void
  /** Records a finished cycle at once: `added` held, `removed` released, the cursor, whether the scope went out. */
  finishCycle (device: string, added: Iterable<DocName>, removed: Iterable<DocName>, cursor: number, sentScope: boolean): void
  /** Forgets what the device holds: its whole scope goes out again until a cycle finishes. */
  forget (device: string): void
  /** Runs `f`, whose writes are calls of this port, as one commit: all of them or (should it throw) none. */
  batch (f: () => void): void
}
