// Hybrid logical clocks for field writes: wall time (ms) + counter + writer (the Yjs client id that wrote).
// Every write of a scalar field carries one in the record's `clocks` map, with the clock of the write it
// was made on top of, so the server can tell a later edit from an earlier one and a concurrent write
// from one that saw the current value (README, "Conflicts").

export interface Hlc {
  readonly wall: number
  readonly counter: number
  readonly writer: number
}

/** A field write's stamp: its clock, and the clock of the value it replaced as its writer last saw it. */
export interface FieldStamp {
  readonly clock: Hlc
  readonly seen: Hlc | null
}

export const ZERO: Hlc = { wall: 0, counter: 0, writer: 0 }

const MAX_COUNTER = 0xffff
/** Total order: wall time, then counter, then writer (only exact wall and counter ties reach the writer). */
export const compareHlc = (a: Hlc, b: Hlc): number =>
  a.wall - b.wall || a.counter - b.counter || a.writer - b.writer

export const encodeHlc = (c: Hlc): string => `${c.wall}:${c.counter}:${c.writer}`

/** The value of the 1 to `max` decimal digits of `s` from `at` up to `end` (exclusive), or -1 when that is not what is there. */
const digits = (s: string, at: number, end: number, max: number): number => {
  if (end <= at || end - at > max) return -1
  let n = 0
  for (let i = at; i < end; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * `wall:counter:writer` in `s` from `at` up to `end`: 1-15, 1-5 and 1-10 decimal digits (written without a
 * regular expression or a split: every update reads the stamps it touches).
 */
const readHlc = (s: string, at: number, end: number): Hlc | null => {
  const a = s.indexOf(':', at)
  if (a < 0 || a >= end) return null
  const b = s.indexOf(':', a + 1)
  if (b < 0 || b >= end) return null
  const wall = digits(s, at, a, 15)
  const counter = digits(s, a + 1, b, 5)
  const writer = digits(s, b + 1, end, 10)
  if (wall < 0 || counter < 0 || writer < 0) return null
  return counter <= MAX_COUNTER && writer <= 0xffffffff ? { wall, counter, writer } : null
}

export const decodeHlc = (s: string): Hlc | null => readHlc(s, 0, s.length)

/** `clock` or `clock seen` (README, "Record document layout"). */
export const encodeStamp = (s: FieldStamp): string => s.seen === null ? encodeHlc(s.clock) : `${encodeHlc(s.clock)} ${encodeHlc(s.seen)}`

export const decodeStamp = (s: unknown): FieldStamp | null => {
  if (typeof s !== 'string' || s.length > 80) return null
  const space = s.indexOf(' ')
  if (space < 0) {
    const clock = readHlc(s, 0, s.length)
    return clock === null ? null : { clock, seen: null }
  }
  // (Two parts at most: a second space is no stamp.)
  if (s.indexOf(' ', space + 1) >= 0) return null
  const clock = readHlc(s, 0, space)
  const seen = clock === null ? null : readHlc(s, space + 1, s.length)
  return clock === null || seen === null ? null : { clock, seen }
}

/** The next clock of `writer` after `last` (the newest it has issued or seen) at wall time `now`. */
export const tick = (last: Hlc, now: number, writer: number): Hlc => {
  if (now > last.wall) return { wall: now, counter: 0, writer }
  if (last.counter < MAX_COUNTER) return { wall: last.wall, counter: last.counter + 1, writer }
  return { wall: last.wall + 1, counter: 0, writer }
}

export const maxHlc = (a: Hlc, b: Hlc): Hlc => compareHlc(a, b) >= 0 ? a : b

/** The clock's wall time as an ISO date-time (what a user reads as "when"). */
export const hlcTime = (c: Hlc): string => new Date(c.wall).toISOString()
