// Where the device SDK gets its token: a fixed string, or a callback the app supplies, asked at every
// connect and every HTTP request so that an expiring token is replaced by a fresh one.

/** A token, or a function returning the current one (it may refresh it first). */
export type TokenSource = string | (() => string | Promise<string>)

export const currentToken = async (source: TokenSource): Promise<string> =>
  typeof source === 'string' ? source : await source()
