// How much room the V8 heap keeps over what it holds. A server's live heap is steady (loaded records,
// sessions, indexes) while it allocates fast; V8 sizes its old space by a growing factor it picks from
// its own speed (up to 4x what survived the last full collection), so the committed heap, and with it the
// resident memory, wandered between about 1.6 and 2.7 times the live heap in an hour's soak, with nothing
// more being kept.
// A fixed factor keeps the heap at a steady multiple of what is live: memory follows what the server
// holds (bench/team --soak; README, HEAP_GROWING_PERCENT). The default is a factor of 2: a factor of 1.5
// meant many more full collections while the heap grows fast (100 devices' initial sync at once: 73-74% of
// the server's core for the storm against 48-54% with V8's own sizing); with 2 the storm and the live
// load cost what they cost with V8's own sizing (bench/team, alternating runs).

import { setFlagsFromString } from 'node:v8'

/** Sets V8's heap growing factor to 1 + `percent`/100 for every full collection from now on (0: V8's own). */
export const sizeHeap = (percent: number): void => {
  // (V8 reads the flag at each full collection; Node leaves its flags unfrozen after start.)
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`)
}
