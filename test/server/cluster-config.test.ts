// DATABASE_URL, REDIS_URL and REDIS_PREFIX: parsed once with clear errors; without them nothing changes.

import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../src/server/config.ts'

describe('configuration of several instances', () => {
  it('selects PostgreSQL and Redis only when given, and names what is wrong', () => {
    expect(parseConfig({})).toMatchObject({ databaseUrl: undefined, redis: undefined })
    const both = parseConfig({ DATABASE_URL: 'postgres://u@db:5432/fs', REDIS_URL: 'redis://cache:6379', REDIS_PREFIX: 'acme-prod' })
    expect(both).toMatchObject({ databaseUrl: 'postgres://u@db:5432/fs', redis: { url: 'redis://cache:6379', prefix: 'acme-prod' } })
    expect(parseConfig({ DATABASE_URL: 'postgresql://db/fs' }).redis).toBeUndefined()
    expect(parseConfig({ DATABASE_URL: 'postgres://db/fs', REDIS_URL: 'rediss://cache' }).redis?.prefix).toBe('fieldsync')
    expect(() => parseConfig({ REDIS_URL: 'redis://cache' })).toThrow(/REDIS_URL needs DATABASE_URL/)
    expect(() => parseConfig({ DATABASE_URL: 'mysql://db/fs' })).toThrow(ConfigError)
    expect(() => parseConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL must be a URL/)
    expect(() => parseConfig({ DATABASE_URL: 'postgres://db/fs', REDIS_URL: 'http://cache' })).toThrow(/REDIS_URL must be a redis: or rediss: URL/)
    expect(() => parseConfig({ DATABASE_URL: 'postgres://db/fs', REDIS_URL: 'redis://cache', REDIS_PREFIX: 'a b' })).toThrow(/REDIS_PREFIX/)
  })
})
