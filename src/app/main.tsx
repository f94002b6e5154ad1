// The fieldsync app: sign-in, first sync, then the screens under a header that always shows the sync
// status. Registers the service worker that keeps the app shell for offline starts.

import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { firstSync, go, headerState, href, route, signed } from './state.ts'
import { resume } from './device-link.ts'
import { FirstSyncScreen, SignInScreen } from './sign-in.tsx'
import { EntityList, RecordList } from './lists.tsx'
import { RecordScreen, NewRecordScreen } from './record-form.tsx'
import { InboxScreen } from './inbox.tsx'
import { DeviceStatusScreen } from './device-status.tsx'
import { signInWithProviderToken } from './session.ts'
import { openDevice } from './device-link.ts'

const Header = () => {
  const h = headerState.value
  const r = route.value
  return (
    <header class="top">
      {r.name !== 'home' ? <a class="back" href={href.home} aria-label="Home">◀</a> : <span class="brand">fieldsync</span>}
      <button type="button" id="sync-status" class={`sync ${h.kind}`} data-state={h.kind} aria-label={`Sync status: ${h.text}. Open device status`} onClick={() => go(href.status)}>
        <span class="dot" aria-hidden="true" />{h.text}
      </button>
    </header>
  )
}

const Screen = () => {
  const r = route.value
  switch (r.name) {
    case 'home': return <EntityList />
    case 'list': return <RecordList key={r.entity} entity={r.entity} />
    case 'record': return <RecordScreen key={r.record} record={r.record} />
    case 'new': return <NewRecordScreen key={r.entity} entity={r.entity} />
    case 'inbox': return <InboxScreen />
    case 'status': return <DeviceStatusScreen />
  }
}

const App = () => {
  const [ready, setReady] = useState(false)
  const [failure, setFailure] = useState<string | null>(null)
  useEffect(() => {
    // An identity provider hands its token back in the fragment (#id_token=…).
    const m = /(?:^#|&)id_token=([^&]+)/.exec(location.hash)
    const start = m !== null
      ? (history.replaceState(null, '', location.pathname), openDevice(signInWithProviderToken(decodeURIComponent(m[1]))))
      : resume()
    start.then(() => setReady(true), (e: Error) => { setFailure(e.message); setReady(true) })
  }, [])
  if (!ready) return <p class="loading">Opening…</p>
  if (failure !== null) return <p role="alert" class="error">The app could not open its data: {failure}</p>
  if (signed.value === null) return <SignInScreen />
  if (firstSync.value) return <FirstSyncScreen />
  return <><Header /><Screen /></>
}

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e: Error) => { console.warn(`no offline start: ${e.message}`) })
  void navigator.serviceWorker.ready.then(r => { if (navigator.serviceWorker.controller === null) r.active?.postMessage('claim') })
}
render(<App />, document.getElementById('app')!)
