// The sign-in screen: a demo user picker (demo mode), login and password, and the first sync's progress.

import { useEffect, useState } from 'preact/hooks'
import { demoUsers, signInAsDemoUser, signInWithPassword, type SignIn } from './session.ts'
import { openDevice } from './device-link.ts'
import { firstSync, progress, signInNote, syncError, signed } from './state.ts'
import { syncNow } from './device-link.ts'

export const SignInScreen = () => {
  const [users, setUsers] = useState<{ login: string, name: string }[] | null>(null)
  const [login, setLogin] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => { void demoUsers().then(setUsers) }, [])

  const run = async (f: () => Promise<SignIn>): Promise<void> => {
    setBusy(true)
    setError(null)
    try {
      const s = await f()
      signInNote.value = null
      await openDevice(s)
    } catch (e) {
      setError(e instanceof TypeError ? 'The server cannot be reached: sign-in needs a connection.' : (e as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in">
      <h1>fieldsync</h1>
      {signInNote.value !== null && <p class="note" role="status">{signInNote.value}</p>}
      {users !== null && users.length > 0 && (
        <section aria-labelledby="demo-h">
          <h2 id="demo-h">Demo: sign in as</h2>
          <ul class="demo-users">
            {users.map(u => <li key={u.login}><button type="button" disabled={busy} onClick={() => { void run(() => signInAsDemoUser(u.login)) }}>{u.name} <small>({u.login})</small></button></li>)}
          </ul>
        </section>
      )}
      <form onSubmit={e => { e.preventDefault(); void run(() => signInWithPassword(login.trim(), password)) }}>
        <h2>Sign in</h2>
        <label>Login<input name="login" autocomplete="username" required value={login} onInput={e => setLogin(e.currentTarget.value)} /></label>
        <label>Password<input name="password" type="password" autocomplete="current-password" required value={password} onInput={e => setPassword(e.currentTarget.value)} /></label>
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {error !== null && <p class="error" role="alert">{error}</p>}
      </form>
      <p><a href="/about">About this server</a></p>
    </main>
  )
}

const kib = (n: number): string => n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`

/** The first sync: records done of total and bytes, then the home screen (or the error and a retry). */
export const FirstSyncScreen = () => {
  const p = progress.value
  const cur = signed.value
  return (
    <main class="first-sync">
      <h1>Getting your records</h1>
      <p>Signed in as {cur?.session.user.fullName}. Your records are copied to this device so you can work offline.</p>
      <label for="first-sync-bar">Records</label>
      <progress id="first-sync-bar" max={p?.total === 0 ? undefined : p?.total} value={p?.total === 0 ? undefined : p?.done} />
      <p class="figures" role="status" aria-live="polite">{p === null || p.total === 0 ? 'Connecting…' : `${p.done} of ${p.total} records · ${kib(p.bytes)}`}</p>
      {syncError.value !== null && (
        <div role="alert" class="error">
          <p>The first sync did not finish: {syncError.value}</p>
          <button type="button" onClick={() => { if (cur !== null) void syncNow(cur.device).then(ok => { if (ok) firstSync.value = false }) }}>Try again</button>
        </div>
      )}
    </main>
  )
}
