// A DeviceSession is not a thenable: a method named `then` made `await session` call it, and on a
// closed session that never settled.

import { describe, expect, it } from 'vitest'
import { DeviceSession, type DeviceDeps } from '../../src/server/device-session.ts'

describe('DeviceSession', () => {
  it('has no then method, so awaiting a closed session settles at once', async () => {
    expect('then' in DeviceSession.prototype).toBe(false)
    // Before hello a session does not touch its deps; closing it before hello touches none either.
    const session = new DeviceSession({} as DeviceDeps, 'u-alice', () => {}, () => {})
    session.close()
    const outcome = await Promise.race([
      (async () => { await session; return 'settled' })(),
      new Promise<string>(resolve => setTimeout(() => resolve('still pending after 2 s'), 2000).unref())
    ])
    expect(outcome).toBe('settled')
  })
})
