// Server configuration, parsed once from the environment with clear errors, then passed down.

import { resolve } from 'node:path'
import { DEFAULT_LIMITS, type QuotaLimits } from './quotas.ts'
import { MAX_IDLE_ROOM_BYTES, MAX_IDLE_ROOMS, STATE_REPLIES, WHOLE_REFUSALS } from './room-types.ts'
import { DEFAULT_SHARE_LIMITS, type ShareLimits } from './record-routes.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'
import { DEFAULT_SCRYPT, parseScryptParams, type ScryptParams } from './passwords.ts'
import { DEFAULT_COMMIT_INTERVAL_MS } from './storage/port.ts'

/** An external identity provider whose tokens the server takes (README, "Sign-in"). */
export interface OidcConfig {
  /** the `iss` its tokens carry */
  readonly issuer: string
  /** an `aud` its tokens must carry (one of these) */
  readonly audience: readonly string[]
  /** where its public keys are (a JWKS) */
  readonly jwksUrl: URL
  /** the claim that names the user: a user whose `externalId` is its value */
  readonly userClaim: string
}

export interface ServerConfig {
  readonly port: number
  readonly host: string
  readonly dataDir: string
  /** demo mode: seeds a demo organization, offers POST /auth/dev-login, and users without a password sign in with DEMO_PASSWORD */
  readonly demo: boolean
  /** frames above this close the socket with 1009 */
  readonly maxFrameBytes: number
  /** a socket whose unsent backlog exceeds this when there is more to send is closed with 4408 */
  readonly maxSendBufferBytes: number
  /** the largest attachment (note picture or file) the server takes */
  readonly maxAttachmentBytes: number
  readonly maxAttachmentBytesPerUser: number
  /** a partial attachment upload untouched for this long is removed (seconds) */
  readonly blobUploadTtlSeconds: number
  /** the devices a user keeps: past it, their devices idle longest are forgotten (README, "Security") */
  readonly maxDevicesPerUser: number
  /** share changes one user may make at once, then per minute (README, "Security") */
  readonly shareLimits: ShareLimits
  readonly idleUnloadMs: number
  /** the most records kept loaded with no one using them (README, IDLE_ROOMS_MAX) */
  readonly maxIdleRooms: number
  /** what they may take of the heap, estimated, in bytes (README, IDLE_ROOMS_MAX_BYTES) */
  readonly maxIdleBytes: number
  readonly compactAfter: number
  /** the least time between two commits of the SQLite log while appends keep coming, ms (README, COMMIT_INTERVAL_MS) */
  readonly commitIntervalMs: number
  /** the V8 heap's headroom over what survives a full collection, in percent (0: V8's own sizing; README, HEAP_GROWING_PERCENT) */
  readonly heapGrowingPercent: number
  /** HS256 secret for tokens; when absent one is generated and kept in the database */
  readonly jwtSecret: string | undefined
  /** lifetime of the server's tokens (renewed with POST /auth/refresh) */
  readonly tokenTtlSeconds: number
  /** how long one sign-in may be renewed: its refresh token and every token renewed from it end then */
  readonly sessionTtlSeconds: number
  /** scrypt cost of new password hashes (older hashes are rehashed at their next sign-in) */
  readonly passwordScrypt: ScryptParams
  /** the external identity provider, if any */
  readonly oidc: OidcConfig | undefined
  /** take the client address for sign-in limits from the last X-Forwarded-For entry (behind a proxy) */
  readonly trustProxy: boolean
  /** JSON file declaring custom entities, or undefined for none */
  readonly customEntitiesFile: string | undefined
  /** JSON file declaring views (offline metadata), or undefined for none */
  readonly metadataFile: string | undefined
  /** what one principal may make the server keep in one record, and how fast it may be refused */
  readonly limits: QuotaLimits
  /** how far ahead of the server's clock a field write's time may be (later ones count as written on arrival) */
  readonly maxClockSkewMs: number
  /** what updates refused whole may cost one user, in bytes of records rebuilt (src/server/room-types.ts WHOLE_REFUSALS) */
  readonly wholeRefusals: { readonly burstBytes: number, readonly bytesPerSecond: number }
  /** what answers to state requests may cost one user, in bytes encoded (STATE_REPLIES) */
  readonly stateReplies: { readonly burstBytes: number, readonly bytesPerSecond: number }
  /** PostgreSQL (DATABASE_URL) in place of the SQLite file: several instances may share it */
  readonly databaseUrl: string | undefined
  /** Redis (REDIS_URL) for fan-out between instances, and the prefix of its channel names (REDIS_PREFIX) */
  readonly redis: { readonly url: string, readonly prefix: string, readonly sweepMs: number } | undefined
}

export class ConfigError extends FieldsyncError {
  override name = 'ConfigError'
  constructor (message: string, options?: ErrorOptions) {
    super(ErrorCode.invalidConfig, message, options)
  }
}

/** HEAP_GROWING_PERCENT's default: a factor of 2 (see heap-sizing.ts for what a fixed factor costs). */
export const DEFAULT_HEAP_GROWING_PERCENT = 100

const int = (env: Record<string, string | undefined>, key: string, fallback: number, min: number, max: number): number => {
  const raw = env[key]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  return n
}

const bool = (env: Record<string, string | undefined>, key: string, fallback: boolean): boolean => {
  const raw = env[key]
  if (raw === undefined || raw === '') return fallback
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false
  throw new ConfigError(`${key} must be 1 or 0, got ${JSON.stringify(raw)}`)
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

const parseOidc = (env: Record<string, string | undefined>): OidcConfig | undefined => {
  const given = (key: string): string | undefined => env[key] === undefined || env[key]!.trim() === '' ? undefined : env[key]!.trim()
  const keys = ['OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL'] as const
  const set = keys.filter(k => given(k) !== undefined)
  if (set.length === 0) {
    if (given('OIDC_USER_CLAIM') !== undefined) throw new ConfigError('OIDC_USER_CLAIM needs OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL')
    return undefined
  }
  if (set.length < keys.length) throw new ConfigError(`an external identity provider needs ${keys.join(', ')}; missing ${keys.filter(k => !set.includes(k)).join(', ')}`)
  let jwksUrl: URL
  try { jwksUrl = new URL(given('OIDC_JWKS_URL')!) } catch { throw new ConfigError(`OIDC_JWKS_URL must be a URL, got ${JSON.stringify(env.OIDC_JWKS_URL)}`) }
  // Keys fetched in the clear could be swapped on the way: https, except on this machine.
  if (!(jwksUrl.protocol === 'https:' || (jwksUrl.protocol === 'http:' && LOOPBACK.has(jwksUrl.hostname)))) {
    throw new ConfigError(`OIDC_JWKS_URL must be https (http only on localhost), got ${JSON.stringify(env.OIDC_JWKS_URL)}`)
  }
  const audience = given('OIDC_AUDIENCE')!.split(',').map(a => a.trim()).filter(a => a !== '')
  if (audience.length === 0) throw new ConfigError('OIDC_AUDIENCE must name at least one audience')
  return { issuer: given('OIDC_ISSUER')!, audience, jwksUrl, userClaim: given('OIDC_USER_CLAIM') ?? 'sub' }
}

const scrypt = (env: Record<string, string | undefined>): ScryptParams => {
  const raw = env.PASSWORD_SCRYPT
  if (raw === undefined || raw === '') return DEFAULT_SCRYPT
  const p = parseScryptParams(raw)
  if (p === null) throw new ConfigError(`PASSWORD_SCRYPT must be ln=<10-22>,r=<1-32>,p=<1-16> using at most 1 GiB (128 * 2^ln * r bytes), got ${JSON.stringify(raw)}`)
  return p
}

const url = (env: Record<string, string | undefined>, key: string, protocols: readonly string[]): string | undefined => {
  const raw = env[key]
  if (raw === undefined || raw.trim() === '') return undefined
  let u: URL
  try { u = new URL(raw.trim()) } catch { throw new ConfigError(`${key} must be a URL (${protocols.join(' or ')}), got something else`) }
  if (!protocols.includes(u.protocol)) throw new ConfigError(`${key} must be a ${protocols.join(' or ')} URL, got ${u.protocol}`)
  return raw.trim()
}

const parseRedis = (env: Record<string, string | undefined>, database: string | undefined): ServerConfig['redis'] => {
  const redis = url(env, 'REDIS_URL', ['redis:', 'rediss:'])
  const prefix = env.REDIS_PREFIX === undefined || env.REDIS_PREFIX === '' ? 'fieldsync' : env.REDIS_PREFIX
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) throw new ConfigError('REDIS_PREFIX must be 1 to 64 letters, digits or _ . : -')
  if (redis === undefined) return undefined
  // Fan-out between instances that do not share a store would announce positions nobody can read.
  if (database === undefined) throw new ConfigError('REDIS_URL needs DATABASE_URL: instances share PostgreSQL and fan out over Redis')
  return { url: redis, prefix, sweepMs: int(env, 'CATCH_UP_SWEEP_MS', 1000, 100, 3_600_000) }
}

export const parseConfig = (env: Record<string, string | undefined>, cwd = process.cwd()): ServerConfig => {
  const secret = env.JWT_SECRET
  if (secret !== undefined && secret.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters')
  const custom = env.CUSTOM_ENTITIES
  const metadata = env.METADATA
  return {
    port: int(env, 'PORT', 8787, 0, 65535),
    host: env.HOST !== undefined && env.HOST !== '' ? env.HOST : '127.0.0.1',
    dataDir: resolve(cwd, env.DATA_DIR !== undefined && env.DATA_DIR !== '' ? env.DATA_DIR : 'data'),
    demo: bool(env, 'DEMO', true),
    maxFrameBytes: int(env, 'MAX_FRAME_BYTES', 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxSendBufferBytes: int(env, 'MAX_SEND_BUFFER_BYTES', 8 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    maxAttachmentBytes: int(env, 'MAX_ATTACHMENT_BYTES', 10 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    maxAttachmentBytesPerUser: int(env, 'MAX_ATTACHMENT_BYTES_PER_USER', 1024 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    maxDevicesPerUser: int(env, 'MAX_DEVICES_PER_USER', 20, 1, 10_000),
    shareLimits: {
      burst: int(env, 'SHARE_CHANGES_BURST', DEFAULT_SHARE_LIMITS.burst, 1, 1_000_000),
      perMinute: int(env, 'SHARE_CHANGES_PER_MINUTE', DEFAULT_SHARE_LIMITS.perMinute, 1, 1_000_000),
      perRecord: int(env, 'MAX_SHARES_PER_RECORD', DEFAULT_SHARE_LIMITS.perRecord, 1, 100_000),
      total: int(env, 'MAX_SHARES', DEFAULT_SHARE_LIMITS.total, 1, 10_000_000)
    },
    blobUploadTtlSeconds: int(env, 'BLOB_UPLOAD_TTL_SECONDS', 86_400, 1, 365 * 86_400),
    idleUnloadMs: int(env, 'IDLE_UNLOAD_MS', 30_000, 10, 86_400_000),
    maxIdleRooms: int(env, 'IDLE_ROOMS_MAX', MAX_IDLE_ROOMS, 0, 10_000_000),
    maxIdleBytes: int(env, 'IDLE_ROOMS_MAX_BYTES', MAX_IDLE_ROOM_BYTES, 0, 2 ** 40),
    compactAfter: int(env, 'COMPACT_AFTER', 200, 2, 1_000_000),
    commitIntervalMs: int(env, 'COMMIT_INTERVAL_MS', DEFAULT_COMMIT_INTERVAL_MS, 0, 1000),
    heapGrowingPercent: int(env, 'HEAP_GROWING_PERCENT', DEFAULT_HEAP_GROWING_PERCENT, 0, 300),
    jwtSecret: secret,
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 15 * 60, 60, 365 * 86400),
    sessionTtlSeconds: int(env, 'SESSION_TTL_SECONDS', 30 * 86400, 300, 365 * 86400),
    passwordScrypt: scrypt(env),
    oidc: parseOidc(env),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    customEntitiesFile: custom === '' ? undefined : resolve(cwd, custom ?? 'config/custom-entities.json'),
    metadataFile: metadata === '' ? undefined : resolve(cwd, metadata ?? 'config/metadata.json'),
    maxClockSkewMs: 1000 * int(env, 'MAX_CLOCK_SKEW_SECONDS', 120, 0, 86_400),
    wholeRefusals: {
      burstBytes: int(env, 'WHOLE_REFUSED_BYTES_BURST', WHOLE_REFUSALS.burstBytes, 1024, 1024 ** 4),
      bytesPerSecond: int(env, 'WHOLE_REFUSED_BYTES_PER_SECOND', WHOLE_REFUSALS.bytesPerSecond, 1024, 1024 ** 4)
    },
    stateReplies: {
      burstBytes: int(env, 'STATE_REPLY_BYTES_BURST', STATE_REPLIES.burstBytes, 1024, 1024 ** 4),
      bytesPerSecond: int(env, 'STATE_REPLY_BYTES_PER_SECOND', STATE_REPLIES.bytesPerSecond, 1024, 1024 ** 4)
    },
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redis: parseRedis(env, url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])),
    limits: {
      receiptsPerRecord: int(env, 'MAX_RECEIPTS_PER_RECORD', DEFAULT_LIMITS.receiptsPerRecord, 1, 1_000_000),
      refusedBytesPerRecord: int(env, 'MAX_REFUSED_BYTES_PER_RECORD', DEFAULT_LIMITS.refusedBytesPerRecord, 1024, 1024 * 1024 * 1024),
      clientIdsPerRecord: int(env, 'MAX_CLIENT_IDS_PER_RECORD', DEFAULT_LIMITS.clientIdsPerRecord, 1, 1_000_000),
      refusedBurst: int(env, 'REFUSED_UPDATES_BURST', DEFAULT_LIMITS.refusedBurst, 1, 1_000_000),
      refusedPerSecond: int(env, 'REFUSED_UPDATES_PER_SECOND', DEFAULT_LIMITS.refusedPerSecond, 1, 1_000_000),
      presenceBurst: int(env, 'PRESENCE_UPDATES_BURST', DEFAULT_LIMITS.presenceBurst, 1, 1_000_000),
      presencePerSecond: int(env, 'PRESENCE_UPDATES_PER_SECOND', DEFAULT_LIMITS.presencePerSecond, 1, 1_000_000)
    }
  }
}
