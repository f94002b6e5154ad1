// GET /about is public (no token). It read the name of every stored record on each request (a DISTINCT
// over the whole update log, synchronous on SQLite) and then, outside demo mode, showed none of them:
// anyone could make the server scan its whole log, blocking the event loop for every user, once per
// request. Outside demo mode the page reads no record.

import { describe, expect, it, vi } from 'vitest'
import { useCleanups } from '../helpers/cleanups.ts'
import { startServer } from './support.ts'

const cleanups = useCleanups()

describe('GET /about', () => {
  it('outside demo mode reads no record, whoever asks', async () => {
    const s = await startServer(cleanups, { DEMO: '0' })
    const list = vi.spyOn(s.storage, 'list')
    for (let i = 0; i < 3; i++) expect((await fetch(`${s.url}/about`)).status).toBe(200)
    expect(list).not.toHaveBeenCalled()
  })
})
