// Failed sign-ins are limited per login (a burst of 10, then one per minute: README, "Sign-in") for the
// deployment, not per instance: behind a load balancer over N instances, an attacker guessing one user's
// password must not get N times the guesses by spreading them. Each instance kept its own buckets in
// memory (src/server/rate-limit.ts), so a login limited on one instance was checked in full on another
// (401, or 200 when right); the buckets are rows in PostgreSQL now (src/server/storage/pg-buckets.ts).

import { describe, expect, it } from 'vitest'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { twoInstances } from '../helpers/cluster.ts'

const catalog = loadCatalog()

const attempt = (port: number, password: string): Promise<number> =>
  fetch(`http://127.0.0.1:${port}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'alice', password }) }).then(r => r.status)

describe('failed sign-ins across instances', () => {
  it('limit a login once for the deployment: guesses past its burst on one instance are refused (429) on another', async () => {
    const { instances, stop } = await twoInstances(catalog, 'fs-sign-in-limits')
    try {
      const [i0, i1] = instances.map(i => i.port)
      // alice's burst spent on instance 0
      for (let i = 0; i < 10; i++) expect(await attempt(i0, `wrong guess ${i}`)).toBe(401)
      expect(await attempt(i0, 'wrong guess 10')).toBe(429)
      // the next guess, on instance 1: checked (401), and the right password signs in (200)
      expect(await attempt(i1, 'wrong guess 11')).toBe(429)
      expect(await attempt(i1, 'demo')).toBe(429)
    } finally {
      await stop()
    }
  }, 60_000)
})
