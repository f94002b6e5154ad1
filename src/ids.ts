// Branded identifiers: mixing a record id with a principal id is a type error, not a bug at run time.

declare const brand: unique symbol
type Brand<T, B extends string> = T & { readonly [brand]: B }

/** The id part of a record (`<entity>/<id>` is the document guid). */
export type RecordId = Brand<string, 'RecordId'>
/** A user or team id. */
export type PrincipalId = Brand<string, 'PrincipalId'>
/** A Yjs client id (a writer of a document). */
export type ClientId = Brand<number, 'ClientId'>
/** `<entity>/<id>`: the guid of a record document and its storage key. */
export type DocName = Brand<string, 'DocName'>

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

export const isValidId = (s: string): boolean => ID_PATTERN.test(s)

export const asRecordId = (s: string): RecordId => {
  if (!isValidId(s)) throw new Error(`invalid record id ${JSON.stringify(s)}: 1-64 of [A-Za-z0-9_-], starting alphanumeric`)
  return s as RecordId
}

export const asPrincipalId = (s: string): PrincipalId => {
  if (!isValidId(s)) throw new Error(`invalid principal id ${JSON.stringify(s)}`)
  return s as PrincipalId
}

export const docName = (entity: string, id: RecordId): DocName => `${entity}/${id}` as DocName

export const parseDocName = (name: string): { entity: string, id: RecordId } | null => {
  const slash = name.indexOf('/')
  if (slash <= 0) return null
  const entity = name.slice(0, slash)
  const id = name.slice(slash + 1)
  if (!isValidId(entity) || !isValidId(id)) return null
  return { entity, id: id as RecordId }
}

/** What owns a record, is shared with, or is in a share: a user or a team. */
export type PrincipalKind = 'systemuser' | 'team'
export interface PrincipalRef { readonly kind: PrincipalKind, readonly id: PrincipalId }

/**
 * The one parser of principal references (`systemuser/<id>`, `team/<id>`): owners, share principals.
 * Strict: exactly one slash, a known kind, an id of the ID pattern; anything else (`systemuser/u-1/x`,
 * `team/`, ` systemuser/u-1`) is null.
 */
export const parsePrincipalRef = (s: unknown): PrincipalRef | null => {
  if (typeof s !== 'string') return null
  const slash = s.indexOf('/')
  if (slash <= 0) return null
  const kind = s.slice(0, slash)
  const id = s.slice(slash + 1)
  if ((kind !== 'systemuser' && kind !== 'team') || !isValidId(id)) return null
  return { kind, id: id as PrincipalId }
}

export const principalRef = (kind: PrincipalKind, id: string): string => `${kind}/${id}`

/** The document that holds one secured field of a record: `<entity>/<id>/<attribute>` (README, "Record document layout"). */
export const fieldDocName = (record: string, attribute: string): DocName => `${record}/${attribute}` as DocName

/** A field document's record and attribute, or null when `name` is not one (strictly three valid parts). */
export const parseFieldDocName = (name: string): { entity: string, id: RecordId, attribute: string, record: DocName } | null => {
  // (a record's name, with one slash, is no field document's: told without splitting it, as every received record is asked)
  const slash = name.indexOf('/')
  if (slash < 0 || name.indexOf('/', slash + 1) < 0) return null
  const parts = name.split('/')
  if (parts.length !== 3 || !parts.every(isValidId)) return null
  const [entity, id, attribute] = parts
  return { entity, id: id as RecordId, attribute, record: `${entity}/${id}` as DocName }
}

/** Random id: 32 hex characters (128 bits). */
export const newId = (): RecordId => {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s as RecordId
}
