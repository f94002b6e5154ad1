// A socket names the privilege version its device last received (`pv`), any version the server keeps, so
// that a refusal can say `privilege-revoked` rather than never allowed. Loading an old version is not free
// (the model read from storage and indexed; only a few are cached): before, every update of such a socket
// loaded it, so sockets naming many old versions made every update reload one. Now it is read only to word
// a refusal, which the refused-update limit bounds.

import { describe, expect, it, vi } from 'vitest'
import { FIELDS } from '../../src/docs/record.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { api, copyOf, edit, ownedBy, raw, receiptsOn, startServer } from './support.ts'

const cleanups = useCleanups()

describe('the privilege version a socket names', () => {
  it('is loaded only to word a refusal, not for every update', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const old = s.security.index.version
    // A share change saves a newer version.
    const shared = await api(s, 'alice', `/api/records/${name}/shares`, { method: 'PUT', body: JSON.stringify({ principal: 'systemuser/u-carol', access: 'read' }) })
    expect(shared.status).toBe(200)
    expect(s.security.index.version).toBeGreaterThan(old)
    const at = vi.spyOn(s.security, 'at')
    const open = async (login: string): Promise<(update: Uint8Array) => Promise<void>> => {
      const r = await raw(cleanups, s, name, login, `receipts=1&pv=${old}`)
      return async update => {
        const from = r.messages.length
        r.update(update)
        r.ws.send(new Uint8Array([0, SyncStep.step1, 1, 0]))
        await until(() => r.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2), 'the reply')
        await s.server.rooms.get(name).settled()
      }
    }
    const alice = await open('alice')
    await alice(edit(copyOf(s, name, 0x7200001), d => d.getMap(FIELDS).set('telephone1', '+1 555 0100')))
    expect(s.projection.row('account', name.split('/')[1])?.telephone1).toBe('+1 555 0100')
    expect(at).not.toHaveBeenCalled()
    // A write refused for want of a privilege (erin reads, never writes) asks for it, to word the refusal.
    const erin = await open('erin')
    await erin(edit(copyOf(s, name, 0x7200002), d => d.getMap(FIELDS).set('telephone1', '+1 555 0199')))
    expect(receiptsOn(s, 'u-erin', name).some(r => r.reason === Reason.noWritePrivilege)).toBe(true)
    expect(at).toHaveBeenCalledWith(old)
  })
})
