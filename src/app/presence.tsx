// Who else has this record open, while online: a y-websocket connection to the record's /sync room on a
// document of its own (the device's copy syncs over /device), used only for presence. The server sets who
// each presence state belongs to from the token, so the names shown are the server's.

import { useEffect, useState } from 'preact/hooks'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import type { Session } from './session.ts'
import { status } from './state.ts'

interface PresenceUser { readonly id?: string, readonly name?: string, readonly login?: string }

export const Presence = ({ record, session }: { record: string, session: Session }) => {
  const [others, setOthers] = useState<string[]>([])
  const online = status.value !== 'offline'
  useEffect(() => {
    if (!online) { setOthers([]); return }
    let provider: WebsocketProvider | null = null
    let stopped = false
    const doc = new Y.Doc()
    void session.token({ refused: false }).then(token => {
      if (stopped) return
      provider = new WebsocketProvider(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`, record, doc, { params: { token }, disableBc: true })
      const aw = provider.awareness
      aw.setLocalState({ viewing: true })
      const changed = (): void => {
        const names = new Set<string>()
        for (const [id, st] of aw.getStates()) {
          const u = (st as { user?: PresenceUser }).user
          if (id !== aw.clientID && u !== undefined && u.id !== session.user.id) names.add(u.name ?? u.login ?? 'someone')
        }
        setOthers([...names])
      }
      aw.on('change', changed)
      // A renewed token for the next reconnect (tokens are short).
      provider.on('connection-close', () => { void session.token({ refused: false }).then(t => { if (provider !== null) provider.params = { token: t } }) })
    })
    return () => { stopped = true; provider?.destroy(); doc.destroy() }
  }, [record, online])
  if (others.length === 0) return null
  return <p class="presence" role="status">Also here: {others.join(', ')}</p>
}
