// The structs of one client in a decoded update, found by clock. An update holds each client's structs in
// one section, in clock order (the check step refuses any other), so a lookup is a binary search: an update
// whose items refer to the structs of another client of the same update made a scan per item cost the
// square of the update's size (test/security/struct-lookups.test.ts).

/** What a struct of a decoded update has for this (Yjs's Item, GC and Skip alike). */
interface Clocked { readonly id: { readonly clock: number }, readonly length: number }

/** The struct of `structs` (one client's, in clock order) that holds `clock`, or undefined. */
export const structAt = <S extends Clocked>(structs: readonly S[] | undefined, clock: number): S | undefined => {
  if (structs === undefined) return undefined
  let lo = 0
  let hi = structs.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const s = structs[mid]
    if (clock < s.id.clock) hi = mid - 1
    else if (clock >= s.id.clock + s.length) lo = mid + 1
    else return s
  }
  return undefined
}
