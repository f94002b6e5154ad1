// A record's row in the relational projection, as plain values (the shape storage and scopes read).

export type SqlValue = string | number | null
export type Row = Record<string, SqlValue>

/** A record value as its row holds it: booleans as 1 and 0, no value as null. */
export const sqlValue = (v: string | number | boolean | undefined): SqlValue => v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v

/** A row's value of an attribute as the record holds it (`boolean`: the attribute is a boolean): no value as undefined. */
export const recordValue = (v: SqlValue | undefined, boolean: boolean): string | number | boolean | undefined =>
  v === null || v === undefined ? undefined : boolean ? v === 1 : v
