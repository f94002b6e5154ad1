import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

/** The shipped metadata with the lead flow's stages declared without `required`, as an author may write them. */
const metadataWithoutRequired = (dir: string): string => {
  const m = JSON.parse(readFileSync('config/metadata.json', 'utf8')) as { processFlows: { entity: string, stages: { name: string, required?: string[] }[] }[] }
  for (const s of m.processFlows.find(f => f.entity === 'lead')!.stages) delete s.required
  const file = join(dir, 'metadata.json')
  writeFileSync(file, JSON.stringify(m))
  return file
}

describe('a flow whose stages omit `required`', () => {
  it('means no required fields: the device and the record\'s room move stages without crashing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-flow-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const s: TestServer = await startTestServer({ METADATA: metadataWithoutRequired(dir) })
    cleanups.push(() => s.dispose())
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
    cleanups.push(() => d.close())
    await d.sync()
    const lead = (await d.list('lead'))[0].record
    await d.nextStage(lead)
    expect((await d.stage(lead))?.name).toBe('Develop')
    await d.sync()
    expect(s.projection.row('lead', lead.split('/')[1])?.activestage).toBe('Develop')
    // A plain y-websocket client jumping two stages ahead: the room checks the move (nothing is required) and keeps it.
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, lead, doc, await s.token('alice'))
    cleanups.push(() => p.destroy())
    await synced(p)
    doc.getMap('meta').set('activestage', 'Close')
    await until(() => s.projection.row('lead', lead.split('/')[1])?.activestage === 'Close', 'the room projects the move')
    expect(doc.getMap('meta').get('activestage')).toBe('Close')
    expect(s.storage.receipts('u-alice', 0, 1000).filter(r => r.field === 'activestage')).toEqual([])
  })
})
