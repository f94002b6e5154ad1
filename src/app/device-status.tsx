// The device status page: per entity the records held, the last sync, uploads waiting (edits and files),
// storage used, the inbox, sync now and sign out.

import { useEffect, useState } from 'preact/hooks'
import { dataVersion, headerState, href, inboxCount, lastSyncAt, progress, signed, syncError, unsynced } from './state.ts'
import { signOut, syncNow } from './device-link.ts'
import { entityDef } from './lists.tsx'

interface Figures { held: [string, number][], edits: number, files: number, used: number | null, quota: number | null }

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`

export const DeviceStatusScreen = () => {
  const { device, session } = signed.value!
  const [f, setF] = useState<Figures | null>(null)
  const [busy, setBusy] = useState(false)
  const [confirmOut, setConfirmOut] = useState(false)
  const v = dataVersion.value
  useEffect(() => {
    void (async () => {
      const [names, pending, blobs, estimate] = await Promise.all([device.store.records(), device.store.pending(), device.store.pendingBlobs(), navigator.storage?.estimate?.().catch(() => undefined)])
      const m = new Map<string, number>()
      for (const n of names) { const p = n.split('/'); if (p.length === 2) m.set(p[0], (m.get(p[0]) ?? 0) + 1) }
      setF({ held: [...m].sort((a, b) => a[0].localeCompare(b[0])), edits: pending.length, files: blobs.length, used: estimate?.usage ?? null, quota: estimate?.quota ?? null })
    })()
  }, [v, unsynced.value])
  const p = progress.value
  return (
    <main class="status-page">
      <h1>Device status</h1>
      <dl class="figures">
        <dt>Status</dt><dd id="status-text">{headerState.value.text}{p !== null && p.total > 0 ? ` (${p.done} of ${p.total})` : ''}</dd>
        <dt>Signed in as</dt><dd>{session.user.fullName} ({session.user.login})</dd>
        <dt>Last sync</dt><dd>{lastSyncAt.value === null ? 'never' : new Date(lastSyncAt.value).toLocaleString()}</dd>
        <dt>Changes waiting to upload</dt><dd id="waiting-edits">{unsynced.value}</dd>
        <dt>Files waiting to upload</dt><dd id="waiting-files">{f?.files ?? '…'}</dd>
        <dt>Storage used</dt><dd>{f?.used == null ? 'unknown' : `${mib(f.used)}${f.quota != null ? ` of ${mib(f.quota)}` : ''}`}</dd>
        <dt>Inbox</dt><dd><a href={href.inbox}>{inboxCount.value} to look at</a></dd>
      </dl>
      {syncError.value !== null && <p role="alert" class="error">Last sync: {syncError.value}</p>}
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => { setBusy(true); void syncNow(device).finally(() => setBusy(false)) }}>{busy ? 'Syncing…' : 'Sync now'}</button>
      </div>
      <table class="held">
        <caption>Records on this device</caption>
        <thead><tr><th scope="col">Records</th><th scope="col">Held</th></tr></thead>
        <tbody>{(f?.held ?? []).map(([e, n]) => <tr key={e}><td>{entityDef(device, e)?.label ?? e}</td><td>{n}</td></tr>)}</tbody>
      </table>
      <section class="sign-out" aria-label="Sign out">
        {confirmOut
          ? <>
            <p role="alert">{unsynced.value > 0 ? `${unsynced.value} changes have not reached the server and will be lost. ` : ''}Signing out removes your records from this device.</p>
            <button type="button" class="danger" onClick={() => { void signOut() }}>Sign out and remove data</button>
            <button type="button" onClick={() => setConfirmOut(false)}>Stay signed in</button>
          </>
          : <button type="button" onClick={() => setConfirmOut(true)}>Sign out</button>}
      </section>
    </main>
  )
}
