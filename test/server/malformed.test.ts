import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as prng from 'lib0/prng'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { CloseCode, MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { withSeed } from '../helpers/seed.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { rawAt, type Raw } from '../security/support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const isSync = (step: number) => (m: Uint8Array): boolean => m[0] === MessageType.sync && m[1] === step

const rawSocket = (url: string): Promise<Raw> => rawAt(cleanups, url)

const syncMessage = encodeSyncUpdate

/** A frame that declares a payload far longer than it carries. */
const hugeLength = (): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.sync)
  encoding.writeVarUint(e, SyncStep.update)
  encoding.writeVarUint(e, 2 ** 40)
  encoding.writeUint8Array(e, new Uint8Array([1, 2, 3]))
  return encoding.toUint8Array(e)
}

/** An update whose struct count is huge and whose body is short. */
const hugeStructCount = (): Uint8Array => {
  const u = encoding.createEncoder()
  encoding.writeVarUint(u, 2 ** 30) // number of clients
  encoding.writeVarUint(u, 1_000_000) // structs of the first client
  return syncMessage(SyncStep.update, encoding.toUint8Array(u))
}

describe('bad input', () => {
  it('closes only the offending socket, never changes the record, and other clients keep syncing', async () => {
    await withSeed(async (gen, seed) => {
      const s: TestServer = await startTestServer({ MAX_FRAME_BYTES: '65536' })
      cleanups.push(() => s.dispose())
      const token = await s.token('avery')
      const name = 'account/acc0004'
      const url = `${s.wsUrl}/${name}?token=${token}`
      const b = new Y.Doc()
      const c = new Y.Doc()
      const pb = provider(s.wsUrl, name, b, token)
      const pc = provider(s.wsUrl, name, c, token)
      cleanups.push(() => pb.destroy(), () => pc.destroy())
      await Promise.all([synced(pb), synced(pc)])
      const before = readRecord(b, account)
      const rowsBefore = (await s.storage.load(name as never)).updates.length

      // A real update from a writer that is not connected, to cut and corrupt.
      const w = new Y.Doc()
      Y.applyUpdate(w, Y.encodeStateAsUpdate(b))
      const sv = Y.encodeStateVector(w)
      setField(w, account, 'name', 'SHOULD NOT LAND', { by: 'u-avery', at: '2026-11-27T10:00:00.000Z' })
      const valid = syncMessage(SyncStep.update, Y.encodeStateAsUpdate(w, sv))

      const expectClose = async (frame: Uint8Array | string, code: number): Promise<void> => {
        const r = await rawSocket(url)
        r.ws.send(frame)
        const closed = await r.closed
        expect(closed.code, `frame ${typeof frame === 'string' ? frame : Buffer.from(frame.slice(0, 16)).toString('hex')}`).toBe(code)
      }
      for (let cut = 1; cut < valid.length; cut += Math.max(1, Math.floor(valid.length / 12))) {
        await expectClose(valid.slice(0, cut), CloseCode.malformed)
      }
      await expectClose(hugeLength(), CloseCode.malformed)
      await expectClose(hugeStructCount(), CloseCode.malformed)
      await expectClose(new Uint8Array([42, 0, 0]), CloseCode.malformed)
      await expectClose(new Uint8Array([MessageType.sync, 9, 0]), CloseCode.malformed)
      await expectClose('{"hello":"text frame"}', CloseCode.malformed)
      await expectClose(new Uint8Array(65_537), CloseCode.tooLarge)
      // Random bytes.
      for (let i = 0; i < 30; i++) {
        const frame = prng.uint8Array(gen, prng.uint32(gen, 1, 200))
        const r = await rawSocket(url)
        r.ws.send(frame)
        r.ws.send(new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255, 1]))
        const closed = await r.closed
        expect(closed.code, `seed ${seed} frame ${i}`).toBe(CloseCode.malformed)
      }
      // An update whose dependencies the server lacks: not applied, the socket is asked for its state.
      const w2 = new Y.Doc()
      Y.applyUpdate(w2, Y.encodeStateAsUpdate(w))
      const sv2 = Y.encodeStateVector(w2)
      setField(w2, account, 'accountnumber', 'DEPENDS-ON-MISSING', { by: 'u-avery', at: '2026-11-27T10:00:00.000Z' })
      const r = await rawSocket(url)
      const opening = await r.received(isSync(SyncStep.step1))
      r.ws.send(syncMessage(SyncStep.update, Y.encodeStateAsUpdate(w2, sv2)))
      await r.received(m => m !== opening && isSync(SyncStep.step1)(m)) // asked for the missing state
      r.ws.close()

      // Process up, record unchanged, other clients still sync.
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
      expect((await s.storage.load(name as never)).updates.length).toBe(rowsBefore)
      expect(readRecord(b, account)).toEqual(before)
      expect(readRecord(c, account)).toEqual(before)
      setField(b, account, 'telephone1', '+47 still syncing', { by: 'u-avery', at: '2026-11-27T10:00:01.000Z' })
      await until(() => readRecord(c, account).fields.telephone1 === '+47 still syncing', 'c receives b\'s edit', [c])
      expect(readRecord(c, account).fields.name).toBe(before.fields.name)
    })
  })
})
