// The inbox: changes the server refused and same-field conflicts, in words (what, why, when), each with
// retry, copy to a new record, and discard.

import { useEffect, useState } from 'preact/hooks'
import type { InboxItem } from '../client/store.ts'
import { dataVersion, go, href, signed } from './state.ts'
import { refreshInbox } from './device-link.ts'
import { entityDef } from './lists.tsx'
import { inboxWords, refusalWords } from './words.ts'

export const InboxScreen = () => {
  const { device } = signed.value!
  const [items, setItems] = useState<InboxItem[]>([])
  const [problem, setProblem] = useState<string | null>(null)
  const v = dataVersion.value
  const reload = (): void => { void device.inbox().then(setItems); void refreshInbox(device) }
  useEffect(reload, [v])
  const act = (f: () => Promise<unknown>): void => { f().then(() => { setProblem(null); reload(); dataVersion.value++ }, e => setProblem(refusalWords(e))) }
  return (
    <main class="inbox">
      <h1>Inbox</h1>
      {problem !== null && <p role="alert" class="error">{problem}</p>}
      {items.length === 0 && <p>Nothing to look at: every change you made stands.</p>}
      <ul>
        {items.map(item => {
          const w = inboxWords(item, e => entityDef(device, e))
          const r = item.receipt
          const fieldValue = r.field !== null && 'change' in r && (r.change === 'field-set' || r.change === 'field-cleared')
          return (
            <li key={item.id} class={`item ${r.reason}`}>
              <p class="what"><strong>{w.title}</strong></p>
              <p class="why">Why: {w.why}</p>
              <p class="when"><small>{w.when}</small> · <a href={href.record(r.record)}>Open the record</a></p>
              <div class="item-actions">
                {fieldValue && <button type="button" onClick={() => act(() => device.retry(item.id))}>Retry</button>}
                {fieldValue && <button type="button" onClick={() => act(async () => { const made = await device.copyToNew(item.id); if (made !== null) go(href.record(made)) })}>Copy to a new record</button>}
                <button type="button" onClick={() => act(() => device.discard(item.id))}>Discard</button>
              </div>
            </li>
          )
        })}
      </ul>
    </main>
  )
}
