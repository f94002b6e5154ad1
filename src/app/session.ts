// The app's side of the sign-in: the device SDK's SignInSession (src/client/sign-in-session.ts) signs in,
// renews and signs out; here its state is kept in localStorage (so a reload with no network still opens
// the app), an identity provider's token is read from the URL fragment, and the demo users are listed.

import { isSessionState, SignInSession, type SessionState, type SignInOptions } from '../client/sign-in-session.ts'

const KEY = 'fieldsync.sign-in'

/** The SDK's options: the server is the one that served the page. */
export const sessionOptions = (): SignInOptions => ({ url: location.origin })

const save = (state: SessionState): void => { localStorage.setItem(KEY, JSON.stringify(state)) }

/** Forgets the kept state (signed out, or the sign-in ended). */
export const forget = (): void => { localStorage.removeItem(KEY) }

/** The session kept in localStorage, resumed (it renews when it can); null when none is kept, or what is
 * kept is not a session's state (then it is forgotten). */
export const storedSession = (): SignInSession | null => {
  const text = localStorage.getItem(KEY)
  if (text === null) return null
  let state: unknown
  try { state = JSON.parse(text) } catch { state = null }
  if (isSessionState(state)) return SignInSession.resume(sessionOptions(), state)
  forget()
  return null
}

/** Keeps the session's state in localStorage now and after every renewal. */
export const persist = (session: SignInSession): void => {
  save(session.state)
  session.on('session', save)
}

/** An identity provider's token, as its sign-in hands it back in the fragment (`#id_token=…`); taken out of
 * the address bar and the history. */
export const providerTokenInFragment = (): string | null => {
  const m = /(?:^#|&)id_token=([^&]+)/.exec(location.hash)
  if (m === null) return null
  history.replaceState(null, '', location.pathname)
  return decodeURIComponent(m[1])
}

export const demoUsers = async (): Promise<{ login: string, name: string }[] | null> => {
  try {
    const res = await fetch('/auth/demo-users')
    if (!res.ok) return null
    return ((await res.json()) as { users: { login: string, name: string }[] }).users
  } catch {
    return null
  }
}
