// A test identity provider: a real local HTTP server publishing a JWKS of keys generated with jose (one
// RS256, one ES256), counting fetches, able to fail; and tokens signed with those keys (or others).

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'

export const ISSUER = 'https://idp.fieldsync.test'
export const AUDIENCE = 'fieldsync-api'

export interface KeyPair { readonly kid: string, readonly alg: 'RS256' | 'ES256', readonly privateKey: CryptoKey, readonly publicJwk: JWK }

export interface TestIdentityProvider {
  readonly jwksUrl: string
  readonly rsa: KeyPair
  readonly ec: KeyPair
  /** how many times the JWKS was fetched */
  readonly fetches: number
  /** when true the JWKS answers 500 */
  failing: boolean
  /** The server's environment for this provider. */
  env (extra?: Record<string, string>): Record<string, string>
  /** A token signed with `key` (default the RSA key), the standard claims filled in unless given. */
  sign (claims: JWTPayload, key?: KeyPair, header?: { kid?: string }): Promise<string>
  close (): Promise<void>
}

export const keyPair = async (alg: 'RS256' | 'ES256', kid: string): Promise<KeyPair> => {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return { kid, alg, privateKey, publicJwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } }
}

export const startIdentityProvider = async (): Promise<TestIdentityProvider> => {
  const [rsa, ec] = await Promise.all([keyPair('RS256', 'rsa-1'), keyPair('ES256', 'ec-1')])
  let fetches = 0
  const self = { failing: false }
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') { res.writeHead(404).end(); return }
    fetches++
    if (self.failing) { res.writeHead(500).end('down'); return }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [rsa.publicJwk, ec.publicJwk] }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  return Object.assign(self, {
    jwksUrl, rsa, ec,
    get fetches () { return fetches },
    env: (extra: Record<string, string> = {}) => ({ OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE, OIDC_JWKS_URL: jwksUrl, ...extra }),
    sign: async (claims: JWTPayload, key: KeyPair = rsa, header: { kid?: string } = {}) => {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, ...claims })
        .setProtectedHeader({ alg: key.alg, kid: header.kid ?? key.kid, typ: 'JWT' }).sign(key.privateKey)
    },
    close: () => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) })
  })
}
