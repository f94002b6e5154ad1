// Untrusted input through a valibot schema: its first issue becomes a FieldError naming the field path
// (`entities.account.rules[0].kind`), so every config file and request body fails the same way.

import * as v from 'valibot'
import type { FieldError } from './errors.ts'

/** The path of an issue as it reads in the input (`a.b[0].c`), or `root` for the input itself. */
export const issuePath = (issue: v.BaseIssue<unknown>, root: string): string => {
  let out = ''
  for (const item of issue.path ?? []) {
    const key: unknown = item.key
    out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${String(key)}`
  }
  return out === '' ? root : out
}

/** The schema's output for `input`, or the error `fail` makes of the first issue. */
export const parseFields = <S extends v.GenericSchema>(schema: S, input: unknown, fail: (field: string, message: string) => FieldError, root: string): v.InferOutput<S> => {
  const r = v.safeParse(schema, input, { abortEarly: true })
  if (r.success) return r.output
  throw fail(issuePath(r.issues[0], root), r.issues[0].message)
}
