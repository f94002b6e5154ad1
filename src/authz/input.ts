// The field shapes the security model's inputs share (names, ids, lists), with the messages the admin
// API answers; the entity schemas in org.ts and model.ts are built from them.

import * as v from 'valibot'
import { isValidId, newId } from '../ids.ts'

export const OBJECT = 'expected a JSON object'
export const BOOLEAN = 'expected true or false'
const NON_EMPTY = 'expected a non-empty string'
const LIST = 'expected an array of strings'
const ID = 'expected 1-64 of [A-Za-z0-9_-], starting alphanumeric'

/** A non-empty string of at most `max` characters. */
export const text = (max = 200) => v.pipe(
  v.string(NON_EMPTY),
  v.check(s => s.trim() !== '', NON_EMPTY),
  v.maxLength(max, `longer than ${max} characters`)
)

/** An id the caller may choose; a new one when absent. */
export const newOrId = v.nullish(v.pipe(text(), v.check(isValidId, ID)), newId)

/** A list of ids, each once; empty when absent. */
export const idSet = v.nullish(v.pipe(
  v.array(v.string(LIST), LIST),
  v.transform(ids => [...new Set(ids)]),
  v.readonly()
), [])
