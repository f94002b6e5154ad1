// What a port method returns when its caller can wait: a value (SQLite answers in the same turn) or a
// promise (a store over the network). Callers always `await` it.

export type Awaitable<T> = T | Promise<T>
