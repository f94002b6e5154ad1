// Tokens of an external identity provider (OIDC): verified against its JWKS (jose fetches and caches the
// key set, refetching at most once per 30 s for an unknown key id), RS256 or ES256 only, with the
// configured issuer and audience and an expiry. Which fieldsync user a token is, is the authenticator's.

import { createRemoteJWKSet, errors, jwtVerify } from 'jose'
import type { OidcConfig } from './config.ts'

/** The algorithms taken: asymmetric only, so nothing the provider publishes can sign as a shared secret. */
export const EXTERNAL_ALGORITHMS = ['RS256', 'ES256'] as const

/** Clock difference tolerated with the identity provider on `exp` and `nbf` (seconds). */
const CLOCK_TOLERANCE_SECONDS = 30

export type ExternalCheck =
  | { readonly ok: true, readonly identity: string, readonly expiresAt: number }
  /** `unavailable`: the key set could not be fetched (a 503, not the token's fault) */
  | { readonly ok: false, readonly unavailable: boolean, readonly why: string }

/** Errors that say the token is bad; anything else (network, timeout, a bad key set) is the provider being unavailable. */
const TOKEN_ERRORS = [
  errors.JWTExpired, errors.JWTClaimValidationFailed, errors.JWSSignatureVerificationFailed, errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys, errors.JOSEAlgNotAllowed, errors.JWSInvalid, errors.JWTInvalid, errors.JOSENotSupported
]

export type ExternalVerifier = (token: string) => Promise<ExternalCheck>

export const externalVerifier = (config: OidcConfig, clock: () => number): ExternalVerifier => {
  const jwks = createRemoteJWKSet(config.jwksUrl, { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 })
  return async function verifyExternal (token) {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: config.issuer, audience: [...config.audience], algorithms: [...EXTERNAL_ALGORITHMS],
        requiredClaims: ['exp', config.userClaim], clockTolerance: CLOCK_TOLERANCE_SECONDS, currentDate: new Date(clock())
      })
      const identity = payload[config.userClaim]
      if (typeof identity !== 'string' || identity === '') return { ok: false, unavailable: false, why: `claim ${config.userClaim} is not a string` }
      return { ok: true, identity, expiresAt: payload.exp! * 1000 }
    } catch (e) {
      if (TOKEN_ERRORS.some(k => e instanceof k)) return { ok: false, unavailable: false, why: (e as Error).message }
      return { ok: false, unavailable: true, why: (e as Error).message }
    }
  }
}
