// The date and date-time formats records store (what `Date.prototype.toISOString` writes, in UTC), and
// how a stored value is read back. One definition for attribute values, record stamps and note times.

/** A date attribute's value: `YYYY-MM-DD`. */
export const DATE = /^\d{4}-\d{2}-\d{2}$/
/** A UTC date-time: `YYYY-MM-DDTHH:MM:SS(.sss)Z`. */
export const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/

/** Whether `value` is written as a UTC date-time (its form only; `parseDateTime` also checks it is a real time). */
export const isDateTimeText = (value: unknown): value is string => typeof value === 'string' && DATETIME.test(value)

/** The last strings timeOf parsed, and their times: a server's decisions parse the same few (its clock, a save's stamp) again and again. */
const parsed = { a: '', ta: NaN, b: '', tb: NaN }

/** Date.parse(s), remembered for the last two strings asked for (Date.parse costs a call into the runtime every time). */
export const timeOf = (s: string): number => {
  if (s === parsed.a) return parsed.ta
  if (s === parsed.b) return parsed.tb
  const t = Date.parse(s)
  parsed.b = parsed.a
  parsed.tb = parsed.ta
  parsed.a = s
  parsed.ta = t
  return t
}

/** Whether the `YYYY-MM-DD` that `s` starts with is a day of the calendar (not 2026-02-30). */
export const isCalendarDate = (s: string): boolean => {
  const d = new Date(`${s.slice(0, 10)}T00:00:00Z`)
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s.slice(0, 10)
}

/** The time of a `YYYY-MM-DDTHH:MM:SS(.sss)Z` string in ms, or NaN when it is not a real UTC date-time. */
export const parseDateTime = (value: unknown): number => {
  if (!isDateTimeText(value)) return NaN
  const t = Date.parse(value)
  // Date.parse rolls 2026-02-30 over into March: only a date-time that reads back the same is real.
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 19) !== value.slice(0, 19) ? NaN : t
}
