// Guessing one user's password past the per-login limit by making the limiter forget that login. The
// limiters keep at most SIGN_IN_LIMITS.maxKeys keys each in memory (SQLite: one instance) and, past it,
// drop the least recently charged, which gives that key its whole burst back. A login whose burst the
// attacker spent is charged no more (every attempt is refused before charging), so it soon is the least
// recently charged: the attacker then fails sign-ins under maxKeys other (unknown) logins, and the
// victim's login had its burst again. The per-address limit does not stop the flood: an IPv6 /48 (given
// away free by tunnel brokers) holds 65,536 /64s, each its own address with its own burst. Now a drained
// bucket is forgotten only past HARD_KEYS_FACTOR x maxKeys (src/server/rate-limit.ts); on PostgreSQL the
// buckets are rows that are never forgotten while drained.

import { describe, expect, it } from 'vitest'
import { issueToken } from '../../src/server/auth.ts'
import { SIGN_IN_LIMITS } from '../../src/server/authenticator.ts'
import { SECRET } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { clockedServer, request, setPassword } from '../helpers/sign-in.ts'

const cleanups = useCleanups()
const PASSWORD = 'the right password for alice'

describe('the per-login limit under a flood of other logins', () => {
  it('keeps a login whose burst is spent limited, however many other logins fail meanwhile', async () => {
    const t = await clockedServer({ DEMO: '0' })
    cleanups.push(() => t.s.dispose())
    const admin = await issueToken(SECRET, t.s.security.index.userByLogin('avery')!, 3600, t.now())
    expect((await setPassword(t.app, admin, 'u-alice', PASSWORD)).status).toBe(200)
    const login = (name: string, password: string, address: string) => request(t.app, '/auth/login', { body: { login: name, password }, address })
    for (let i = 0; i < SIGN_IN_LIMITS.perLogin.burst; i++) expect((await login('alice', `guess ${i}`, '198.51.100.7')).status).toBe(401)
    expect((await login('alice', PASSWORD, '198.51.100.8')).status).toBe(429)
    // One failed sign-in under each of maxKeys fresh logins, each from its own /64 of one /48.
    const flood = SIGN_IN_LIMITS.maxKeys + 1
    for (let i = 0; i < flood; i += 64) {
      const answers = await Promise.all(Array.from({ length: Math.min(64, flood - i) }, (_, j) =>
        login(`nobody${i + j}`, 'guess', `2001:db8:7:${(i + j).toString(16)}::1`)))
      for (const a of answers) expect(a.status).toBe(401)
    }
    // No time has passed: alice's login has had no attempt back, so a guess (here the right password) is not checked.
    expect((await login('alice', PASSWORD, '198.51.100.9')).status).toBe(429)
  }, 240_000) // 10,001 sign-ins: about 50 s alone on PostgreSQL (two statements each), more beside other test files
})
