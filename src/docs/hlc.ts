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
const PART = /^(\d{1,15}):(\d{1,5}):(\d{1,10})$/

/** Total order: wall time, then counter, then writer (only exact wall and counter ties reach the writer). */
export const compareHlc = (a: Hlc, b: Hlc): number =>
  a.wall - b.wall || a.counter - b.counter || a.writer - b.writer

export const encodeHlc = (c: Hlc): string => `${c.wall}:${c.counter}:${c.writer}`

export const decodeHlc = (s: string): Hlc | null => {
  const m = PART.exec(s)
  if (m === null) return null
  const c = { wall: Number(m[1]), counter: Number(m[2]), writer: Number(m[3]) }
  return Number.isSafeInteger(c.wall) && c.counter <= MAX_COUNTER && c.writer <= 0xffffffff ? c : null
}

/** `clock` or `clock seen` (README, "Record document layout"). */
export const encodeStamp = (s: FieldStamp): string => s.seen === null ? encodeHlc(s.clock) : `${encodeHlc(s.clock)} ${encodeHlc(s.seen)}`

export const decodeStamp = (s: unknown): FieldStamp | null => {
  if (typeof s !== 'string' || s.length > 80) return null
  const [a, b, ...rest] = s.split(' ')
  if (rest.length > 0) return null
  const clock = decodeHlc(a)
  const seen = b === undefined ? null : decodeHlc(b)
  return clock === null || (b !== undefined && seen === null) ? null : { clock, seen }
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
