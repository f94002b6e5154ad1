// The page at `/`: what this server is, who can sign in, and how to connect a client.

import type { Org } from '../authz/org.ts'
import type { ServerConfig } from './config.ts'
import { parseDocName } from '../ids.ts'
import { DEMO_PASSWORD } from './authenticator.ts'

const esc = (s: string): string => s.replace(/[&<>"']/g, ch => `&#${ch.charCodeAt(0)};`)

// Who can sign in and the organization's units are for demo mode only: outside it the page is public.
const usersTable = (org: Org): string => `<h2>Users</h2>
<table><tr><th>login</th><th>name</th><th>business unit</th></tr>
${org.users.map(u => `<tr><td><code>${esc(u.login)}</code></td><td>${esc(u.fullName)}</td><td>${esc(org.businessUnits.find(b => b.id === u.businessUnitId)?.name ?? u.businessUnitId)}</td></tr>`).join('\n')}
</table>
`

export const indexPage = (config: ServerConfig, org: Org, records: readonly string[]): string => {
  const byEntity = new Map<string, number>()
  for (const r of records) { const e = parseDocName(r)?.entity; if (e !== undefined) byEntity.set(e, (byEntity.get(e) ?? 0) + 1) }
  // Outside demo mode the page is public: no record of the organization's, not even how many there are.
  const example = config.demo ? records[0] ?? 'account/<id>' : 'account/<id>'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fieldsync</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;padding:.1rem .3rem}td,th{padding:.2rem .8rem;text-align:left}</style>
</head><body>
<h1>fieldsync</h1>
<p>Offline-first sync server for business records. ${config.demo ? `<strong>Demo mode</strong>: sign in as any user below with the password <code>${DEMO_PASSWORD}</code>.` : ''}</p>
${config.demo ? `<h2>Records</h2>
<table><tr><th>entity</th><th>records</th></tr>
${[...byEntity].map(([e, n]) => `<tr><td>${esc(e)}</td><td>${n}</td></tr>`).join('\n')}
</table>
${usersTable(org)}` : ''}<h2>Connect</h2>
<pre>${config.demo ? `curl -s -X POST localhost:${config.port}/auth/login -H 'content-type: application/json' -d '{"login":"${esc(org.users[0]?.login ?? 'alice')}","password":"${DEMO_PASSWORD}"}'\n` : ''}new WebsocketProvider('ws://HOST:${config.port}/sync', '${esc(example)}', doc, { params: { token } })</pre>
</body></html>`
}
