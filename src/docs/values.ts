// How each attribute type is encoded in a record document, and the check that a value fits its attribute.

import type { AttributeDef } from './catalog-types.ts'
import { parseDocName } from '../ids.ts'
import { DATE, isCalendarDate, isDateTimeText } from './date-time.ts'

/** A scalar field value as stored in the `fields` map (memo fields live in their own Y.Text). */
export type FieldValue = string | number | boolean

const decimalsOf = (n: number): number => {
  if (Number.isInteger(n)) return 0
  const s = String(n)
  const e = s.indexOf('e-')
  if (e >= 0) return Number(s.slice(e + 2)) + (s.slice(0, e).split('.')[1]?.length ?? 0)
  return s.split('.')[1]?.length ?? 0
}

/** null when `value` fits `attr`, else why not. */
export const checkValue = (attr: AttributeDef, value: unknown): string | null => {
  switch (attr.type) {
    case 'text':
    case 'memo':
      if (typeof value !== 'string') return `${attr.name} expects a string`
      if (value.length > (attr.maxLength ?? 200)) return `${attr.name} is longer than ${attr.maxLength} characters`
      return null
    case 'whole':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `${attr.name} expects a whole number`
      break
    case 'decimal':
    case 'money': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${attr.name} expects a number`
      const p = attr.precision ?? (attr.type === 'money' ? 2 : 4)
      if (decimalsOf(value) > p) return `${attr.name} allows at most ${p} decimal places`
      break
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : `${attr.name} expects true or false`
    case 'date':
      return typeof value === 'string' && DATE.test(value) && isCalendarDate(value) ? null : `${attr.name} expects a date YYYY-MM-DD`
    case 'datetime':
      return isDateTimeText(value) && isCalendarDate(value)
        ? null
        : `${attr.name} expects a UTC date-time YYYY-MM-DDTHH:MM:SS(.sss)Z`
    case 'optionset':
      if (typeof value !== 'number' || !(attr.options ?? []).some(o => o.value === value)) {
        return `${attr.name} expects one of ${(attr.options ?? []).map(o => o.value).join(', ')}`
      }
      return null
    case 'lookup': {
      const ref = typeof value === 'string' ? parseDocName(value) : null
      if (ref === null) return `${attr.name} expects a reference "<entity>/<id>"`
      if (!(attr.targets ?? []).includes(ref.entity)) return `${attr.name} may point at ${(attr.targets ?? []).join(', ')}, not ${ref.entity}`
      return null
    }
  }
  const n = value as number
  if (attr.min !== undefined && n < attr.min) return `${attr.name} is below ${attr.min}`
  if (attr.max !== undefined && n > attr.max) return `${attr.name} is above ${attr.max}`
  return null
}
