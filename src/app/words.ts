// Reasons, changes and values in words for people: the receipt and refusal reason codes, a change's kind,
// a field's value as its attribute shows it.

import type { AttributeDef, EntityDef } from '../docs/catalog-types.ts'
import type { ReasonCode } from '../protocol/receipts.ts'
import type { InboxItem } from '../client/store.ts'

export const REASON_WORDS: Readonly<Record<ReasonCode | 'evicted' | 'upload-refused', string>> = {
  'entity-read-only': 'this kind of record is read-only on a device',
  'command-not-offline': 'this is not possible offline',
  'field-read-only': 'this field cannot be changed',
  'field-secured': 'you may not change this secured field',
  'no-create-privilege': 'you may not create these records',
  'no-write-privilege': 'you may not change these records',
  'no-delete-privilege': 'you may not delete these records',
  'no-assign-privilege': 'you may not assign these records',
  'privilege-revoked': 'your permission was removed before this reached the server',
  'invalid-value': 'the value is not valid',
  'foreign-client-id': 'the change came under another user\'s identity',
  'business-rule': 'a business rule does not allow it',
  'relationship-read-only': 'this relationship is read-only offline',
  'command-rejected': 'another part of the same action was refused, so all of it was',
  'quota-exceeded': 'this record reached a limit on what it may keep',
  superseded: 'someone else changed the same field later; their value stands',
  evicted: 'the record is no longer on this device',
  'upload-refused': 'the server refused the file'
}

export const reasonWords = (reason: string): string => (REASON_WORDS as Record<string, string>)[reason] ?? reason

/** An OfflineRefusal's message is `<reason>: <detail>`; in words: "You may not change these records (no write privilege on account)." */
export const refusalWords = (e: unknown): string => {
  const err = e as { reason?: string, message?: string }
  const message = err.message ?? String(e)
  if (err.reason === undefined) return message
  const detail = message.startsWith(`${err.reason}: `) ? message.slice(err.reason.length + 2) : message
  const words = reasonWords(err.reason)
  return `${words[0].toUpperCase()}${words.slice(1)} (${detail}).`
}

export const CHANGE_WORDS: Readonly<Record<string, string>> = {
  'field-set': 'change of', 'field-cleared': 'clearing of', 'text-edited': 'edit of', created: 'new record', deleted: 'deletion',
  'note-added': 'new note', 'note-edited': 'note edit', 'note-removed': 'note removal', 'stage-moved': 'stage move', command: 'action', update: 'change'
}

export const show = (attr: AttributeDef | undefined, value: unknown): string => {
  if (value === null || value === undefined || value === '') return '—'
  if (attr?.type === 'optionset') return attr.options?.find(o => o.value === value)?.label ?? String(value)
  if (attr?.type === 'boolean') return value === true ? 'Yes' : 'No'
  if (attr?.type === 'money' && typeof value === 'number') return value.toLocaleString(undefined, { minimumFractionDigits: attr.precision ?? 2, maximumFractionDigits: attr.precision ?? 2 })
  if (attr?.type === 'datetime' && typeof value === 'string') return new Date(value).toLocaleString()
  return String(value)
}

/** One inbox item in words: what was tried, why it did not stand, when. */
export const inboxWords = (item: InboxItem, entityOf: (name: string) => EntityDef | undefined): { title: string, why: string, when: string } => {
  const r = item.receipt
  const entity = entityOf(r.record.split('/')[0])
  const attr = r.field === null ? undefined : entity?.attributes.find(a => a.name === r.field)
  const what = 'change' in r ? CHANGE_WORDS[r.change] ?? r.change : 'change'
  const field = attr?.label ?? r.field
  const title = r.reason === 'superseded'
    ? `${field ?? 'A field'}: your value "${show(attr, r.attempted)}" was replaced by "${show(attr, r.kept ?? item.serverValue)}"`
    : `${what[0].toUpperCase()}${what.slice(1)}${field !== null ? ` ${field}` : ''}${r.attempted !== null && r.attempted !== undefined && field !== null ? ` to "${show(attr, r.attempted)}"` : ''} on ${entity?.label ?? r.record.split('/')[0]}`
  const conflict = 'conflict' in r ? r.conflict : undefined
  const why = `${reasonWords(r.reason)}${conflict?.by != null ? ` (changed by ${conflict.by})` : ''}. ${r.message}`
  return { title, why, when: new Date('at' in r && typeof r.at === 'string' ? r.at : item.at).toLocaleString() }
}

/** A record's title: its primary name, or (a contact whose full name is not computed yet) first and last
 * name, or its first text value. */
export const recordTitle = (def: EntityDef, values: Readonly<Record<string, unknown>>, record: string): string => {
  const primary = values[def.primaryName]
  if (typeof primary === 'string' && primary !== '') return primary
  const names = ['firstname', 'lastname'].map(n => values[n]).filter(v => typeof v === 'string' && v !== '')
  if (names.length > 0) return names.join(' ')
  const text = def.attributes.find(a => a.type === 'text' && typeof values[a.name] === 'string' && values[a.name] !== '')
  return text !== undefined ? String(values[text.name]) : record.split('/')[1] ?? record
}
