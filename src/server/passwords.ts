// Password hashes: node:crypto scrypt (memory-hard), a random salt per password, and the cost parameters
// stored with each hash (`$scrypt$ln=15,r=8,p=3$<salt>$<hash>`, the PHC string format), so that a raised
// cost applies to new hashes while old ones still verify, and are rehashed at their next sign-in.

import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

export interface ScryptParams {
  /** log2 of N, the CPU and memory cost */
  readonly ln: number
  /** block size */
  readonly r: number
  /** parallelization */
  readonly p: number
}

/** OWASP's scrypt minimum in its 32 MiB form (N=2^15, r=8, p=3): as strong as N=2^17, p=1, with a quarter of the memory. */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 3 }

const SALT_BYTES = 16
const KEY_BYTES = 32
/** Parameters outside these are refused, in configuration and in a stored hash alike. */
const LIMITS = { ln: [10, 22], r: [1, 32], p: [1, 16] } as const
/** The memory scrypt may use: 128 * N * r bytes, at most 1 GiB. */
const MAX_MEMORY = 1024 * 1024 * 1024

const memoryOf = (p: ScryptParams): number => 128 * 2 ** p.ln * p.r

/** `ln=15,r=8,p=3`, or null when it is not that shape or a value is out of range. */
export const parseScryptParams = (text: string): ScryptParams | null => {
  const m = /^ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})$/.exec(text)
  if (m === null) return null
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }
  for (const key of ['ln', 'r', 'p'] as const) {
    const [min, max] = LIMITS[key]
    if (params[key] < min || params[key] > max) return null
  }
  return memoryOf(params) <= MAX_MEMORY ? params : null
}

export const formatScryptParams = (p: ScryptParams): string => `ln=${p.ln},r=${p.r},p=${p.p}`

const derive = (password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> => {
  const options: ScryptOptions = { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: memoryOf(params) + 1024 * 1024 }
  // NFKC, as NIST 800-63B asks: the same password typed on two keyboards is the same password.
  return new Promise((resolve, reject) => scryptCallback(password.normalize('NFKC'), salt, length, options, (e, key) => e === null ? resolve(key) : reject(e)))
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '')

/** A new hash of `password` under `params`, with a fresh random salt. */
export const hashPassword = async (password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> => {
  const salt = randomBytes(SALT_BYTES)
  return `$scrypt$${formatScryptParams(params)}$${b64(salt)}$${b64(await derive(password, salt, params, KEY_BYTES))}`
}

interface Stored { readonly params: ScryptParams, readonly salt: Buffer, readonly key: Buffer }

const B64 = /^[A-Za-z0-9+/]+$/

const parseStored = (stored: string): Stored => {
  const parts = stored.split('$')
  const params = parts.length === 5 && parts[0] === '' && parts[1] === 'scrypt' ? parseScryptParams(parts[2]) : null
  // A stored hash is written by hashPassword only: anything else is a corrupted row, a bug to see, not a wrong password.
  if (params === null || !B64.test(parts[3]) || !B64.test(parts[4])) throw new Error('a stored password hash is not in the $scrypt$ln=,r=,p=$salt$hash format')
  const key = Buffer.from(parts[4], 'base64')
  if (key.length < 16) throw new Error('a stored password hash is too short')
  return { params, salt: Buffer.from(parts[3], 'base64'), key }
}

/** Whether `password` is the one `stored` was made from; the comparison takes the same time wherever they differ. */
export const verifyPassword = async (stored: string, password: string): Promise<boolean> => {
  const s = parseStored(stored)
  const key = await derive(password, s.salt, s.params, s.key.length)
  return timingSafeEqual(key, s.key)
}

/** Whether `stored` was made with other parameters than `params` (raised since): rehash after a successful sign-in. */
export const needsRehash = (stored: string, params: ScryptParams): boolean =>
  formatScryptParams(parseStored(stored).params) !== formatScryptParams(params)
