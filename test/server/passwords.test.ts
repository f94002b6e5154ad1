// Password hashes: scrypt with a per-password salt, the cost stored with the hash, raised costs detected.

import { describe, expect, it } from 'vitest'
import { DEFAULT_SCRYPT, formatScryptParams, hashPassword, needsRehash, parseScryptParams, verifyPassword } from '../../src/server/passwords.ts'

const FAST = { ln: 10, r: 8, p: 1 }

describe('password hashes', () => {
  it('verify the password they were made from and no other', async () => {
    const h = await hashPassword('correct horse battery', FAST)
    expect(h).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(await verifyPassword(h, 'correct horse battery')).toBe(true)
    expect(await verifyPassword(h, 'correct horse batterY')).toBe(false)
    expect(await verifyPassword(h, '')).toBe(false)
  })

  it('salt every password anew: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same password!', FAST), hashPassword('same password!', FAST)])
    expect(a).not.toBe(b)
    expect(a.split('$')[3]).not.toBe(b.split('$')[3])
  })

  it('keep their cost: a hash made under a lower cost still verifies after the cost is raised, and asks to be rehashed', async () => {
    const old = await hashPassword('an older password', FAST)
    const raised = { ln: 11, r: 8, p: 2 }
    expect(needsRehash(old, raised)).toBe(true)
    expect(needsRehash(old, FAST)).toBe(false)
    expect(await verifyPassword(old, 'an older password')).toBe(true)
    const fresh = await hashPassword('an older password', raised)
    expect(fresh.split('$')[2]).toBe('ln=11,r=8,p=2')
    expect(await verifyPassword(fresh, 'an older password')).toBe(true)
  })

  it('treat the same password typed with another Unicode form as the same (NFKC)', async () => {
    const h = await hashPassword('ﬁeld café', FAST) // the ligature ﬁ and a precomposed é
    expect(await verifyPassword(h, 'field cafe\u0301')).toBe(true)
  })

  it('refuse a stored hash that is not one of ours (a corrupted row is a bug, not a wrong password)', async () => {
    await expect(verifyPassword('plain-text-password', 'x')).rejects.toThrow(/format/)
    await expect(verifyPassword('$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA', 'x')).rejects.toThrow(/format/)
    await expect(verifyPassword('$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaA', 'x')).rejects.toThrow(/too short/)
  })

  it('parse and format cost parameters, refusing what is out of range or over 1 GiB', () => {
    expect(parseScryptParams(formatScryptParams(DEFAULT_SCRYPT))).toEqual(DEFAULT_SCRYPT)
    expect(DEFAULT_SCRYPT).toEqual({ ln: 15, r: 8, p: 3 })
    for (const bad of ['ln=9,r=8,p=1', 'ln=15,r=0,p=1', 'ln=15,r=8,p=17', 'ln=22,r=8,p=1', 'N=32768,r=8,p=1', 'ln=15, r=8, p=1', '']) expect(parseScryptParams(bad)).toBeNull()
    expect(parseScryptParams('ln=20,r=8,p=1')).toEqual({ ln: 20, r: 8, p: 1 })
  })
})
