// Shared by the schemas of untrusted input (catalog, metadata, profiles, admin request bodies): messages
// that say what was expected, and one way to report a problem, from a schema or from a cross-check after
// it, naming the file (or body) and the path.

import * as v from 'valibot'
import type { FieldError } from './errors.ts'

export type PathKey = string | number

/** One problem in a configuration file: where (keys from the file's root) and what. */
export interface Problem { readonly path: readonly PathKey[], readonly message: string }

/** A schema message: "expected <what>, got <the value>". */
export const expected = (what: string) => (issue: v.BaseIssue<unknown>): string => `expected ${what}, got ${issue.received}`

/** `expected` for a fixed set of strings, listing them. */
export const oneOf = (values: readonly string[]): ((issue: v.BaseIssue<unknown>) => string) => expected(`one of ${values.join(', ')}`)

/** A read-only array of `item`, so the inferred types match how the code treats configuration. */
export const list = <TItem extends v.GenericSchema>(item: TItem, what: string) =>
  v.pipe(v.array(item, expected(what)), v.readonly())

/** A non-empty string (names, labels, messages). */
export const text = (what: string) => v.pipe(v.string(expected(what)), v.minLength(1, `${what} must not be empty`))

/** A JSON object (not null, not an array). */
export const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * A file's top level. Valibot's object schemas take arrays too (`[]` has no unknown keys), which at the
 * top of a file whose sections are all optional would read `[]` as an empty file.
 */
export const fileRoot = <TSchema extends v.GenericSchema>(schema: TSchema, what: string) =>
  v.pipe(v.custom<v.InferInput<TSchema>>(isObject, expected(what)), schema)

/** `path` as it reads in the input (`a.b[0].c`), or `root` for the input itself. */
const pathText = (path: readonly PathKey[], root: string): string => {
  let out = ''
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${key}`
  return out === '' ? root : out
}

/**
 * `path` as `a[0].b`, followed by the names met on the way (`(lead.Flow.Stage)`), so an author finds the
 * item whether they count or search: an object with `entity` and `name` reads as `entity.name`.
 */
export const formatPath = (root: unknown, path: readonly PathKey[]): string => {
  const names: string[] = []
  let at: unknown = root
  for (const key of path) {
    at = isObject(at) ? at[key] : Array.isArray(at) && typeof key === 'number' ? at[key] : undefined
    if (isObject(at) && typeof at.name === 'string') names.push(typeof at.entity === 'string' ? `${at.entity}.${at.name}` : at.name)
  }
  const out = pathText(path, 'top level')
  return names.length === 0 ? out : `${out} (${names.join('.')})`
}

/** What a valibot issue says, in the words of the messages above (unknown and missing keys included). */
const messageOf = (issue: v.BaseIssue<unknown>): string => {
  const objectIssue = issue.type === 'strict_object' || issue.type === 'object'
  if (objectIssue && issue.expected === 'never') return 'unknown key (a typo? this key is not part of the format)'
  if (objectIssue && issue.received === 'undefined' && issue.path !== undefined) return 'missing'
  return issue.message
}

const keysOf = (issue: v.BaseIssue<unknown>): PathKey[] =>
  (issue.path ?? []).map(p => typeof p.key === 'number' || typeof p.key === 'string' ? p.key : String(p.key))

/** The problems valibot found, as paths from the root and messages. */
export const problemsOf = (issues: readonly v.BaseIssue<unknown>[]): Problem[] =>
  issues.map(i => ({ path: keysOf(i), message: messageOf(i) }))

/** One line per problem: `<file>: <path> (<names>): <message>`. */
export const describeProblems = (source: string, root: unknown, problems: readonly Problem[]): string =>
  problems.map(p => `${source}: ${formatPath(root, p.path)}: ${p.message}`).join('\n')

/**
 * Parses `input` with `schema`, or throws `fail(text)` where the text lists every problem with the file
 * and the path. Valibot runs with its defaults (every issue collected), so an author fixes a file in one go.
 */
export const parseWith = <TSchema extends v.GenericSchema>(schema: TSchema, source: string, input: unknown, fail: (text: string) => Error): v.InferOutput<TSchema> => {
  const r = v.safeParse(schema, input)
  if (!r.success) throw fail(describeProblems(source, input, problemsOf(r.issues)))
  return r.output
}

/** `JSON.parse`, or `fail` naming the file. */
export const parseJson = (source: string, text: string, fail: (text: string) => Error): unknown => {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw fail(`${source}: not valid JSON (${(e as Error).message})`)
  }
}

/** The path of an issue as it reads in the input (`a.b[0].c`), or `root` for the input itself. */
export const issuePath = (issue: v.BaseIssue<unknown>, root: string): string => pathText(keysOf(issue), root)

/** A request body or admin input through `schema`: its output, or the FieldError `fail` makes of the first issue. */
export const parseFields = <S extends v.GenericSchema>(schema: S, input: unknown, fail: (field: string, message: string) => FieldError, root: string): v.InferOutput<S> => {
  const r = v.safeParse(schema, input, { abortEarly: true })
  if (r.success) return r.output
  throw fail(issuePath(r.issues[0], root), r.issues[0].message)
}
