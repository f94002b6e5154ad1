// A record's row in the relational projection, as plain values (the shape storage and scopes read).

export type SqlValue = string | number | null
export type Row = Record<string, SqlValue>
