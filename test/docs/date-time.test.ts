import { describe, expect, it } from 'vitest'
import { DATE, isCalendarDate, isDateTimeText, parseDateTime } from '../../src/docs/date-time.ts'

describe('the date-time format records store', () => {
  it('is what toISOString writes, with or without milliseconds, in UTC only', () => {
    expect(isDateTimeText(new Date(Date.UTC(2026, 10, 27, 12)).toISOString())).toBe(true)
    expect(isDateTimeText('2026-11-27T12:00:00Z')).toBe(true)
    expect(isDateTimeText('2026-11-27T12:00:00.5Z')).toBe(true)
    for (const bad of ['2026-11-27T12:00:00+01:00', '2026-11-27 12:00:00Z', '2026-11-27T12:00Z', '2026-11-27T12:00:00.1234Z', '2026-11-27', 20261127, null, undefined]) {
      expect(isDateTimeText(bad), String(bad)).toBe(false)
    }
  })

  it('reads back only a real time: no rolled-over day or hour', () => {
    expect(parseDateTime('2026-11-27T12:00:00.250Z')).toBe(Date.UTC(2026, 10, 27, 12, 0, 0, 250))
    expect(parseDateTime('2026-02-30T12:00:00Z')).toBeNaN()
    expect(parseDateTime('2026-11-27T24:00:00Z')).toBeNaN()
    expect(parseDateTime('2026-11-27T12:00:00+00:00')).toBeNaN()
    expect(parseDateTime(undefined)).toBeNaN()
  })

  it('checks a date against the calendar', () => {
    expect(DATE.test('2028-02-29') && isCalendarDate('2028-02-29')).toBe(true)
    expect(isCalendarDate('2027-02-29')).toBe(false)
    expect(isCalendarDate('2026-13-01')).toBe(false)
    expect(DATE.test('2026-1-01')).toBe(false)
  })
})
