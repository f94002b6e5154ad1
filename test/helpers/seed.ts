// Seeded randomness for tests: SEED=<n> replays a run; a failure names its seed.

import * as prng from 'lib0/prng'

export type Gen = prng.PRNG

export const testSeed = (): number => {
  const fromEnv = process.env.SEED
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
}

/** Runs `fn` with a seeded generator; on failure the error says the seed to replay with. */
export const withSeed = async <T>(fn: (gen: Gen, seed: number) => T | Promise<T>, seed = testSeed()): Promise<T> => {
  try {
    return await fn(prng.create(seed), seed)
  } catch (e) {
    const err = e as Error
    err.message = `[replay with SEED=${seed}] ${err.message}`
    throw err
  }
}

export const pick = <T>(gen: Gen, list: readonly T[]): T => list[prng.uint32(gen, 0, list.length - 1)]
export const int = (gen: Gen, min: number, max: number): number => prng.uint32(gen, min, max)
export const chance = (gen: Gen, p: number): boolean => prng.real53(gen) < p
export const word = (gen: Gen, min = 0, max = 12): string => {
  const alphabet = 'abcdefghij XYZ\n€😀é'
  let s = ''
  const n = int(gen, min, max)
  for (let i = 0; i < n; i++) s += pick(gen, [...alphabet])
  return s
}
