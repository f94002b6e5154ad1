// Where the device SDK gets its token: a fixed string, or a callback the app supplies, asked at every
// connect and every HTTP request so that an expiring token is replaced by a fresh one.

/** Why the SDK asks: `refused` is true when the server just refused the last token (401 or close 4401),
 * so a callback that caches its token should renew it rather than hand out the same one. */
export interface TokenRequest { readonly refused: boolean }

/** A token, or a function returning the current one (it may refresh it first). */
export type TokenSource = string | ((request: TokenRequest) => string | Promise<string>)

export const currentToken = async (source: TokenSource, request: TokenRequest = { refused: false }): Promise<string> =>
  typeof source === 'string' ? source : await source(request)
