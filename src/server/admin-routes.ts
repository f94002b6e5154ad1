// The admin API: the security model over JSON, validated (400 names the bad field). Admins only.
// Changes answer with the model's new version (and a profile with its warnings).

import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { createMiddleware } from 'hono/factory'
import type { Catalog } from '../docs/catalog-types.ts'
import * as admin from '../authz/admin.ts'
import type { SecurityModel } from '../authz/model.ts'
import { parseProfile } from '../profiles/profile.ts'
import type { Security } from './security.ts'
import type { Authenticator } from './authenticator.ts'

export const adminRoutes = (security: Security, catalog: Catalog, auth: Authenticator): Hono => {
  const app = new Hono()
  app.use('*', createMiddleware(async function requireAdmin (c, next) {
    if (!security.index.isAdmin(c.get('principal').userId)) throw new HTTPException(403, { message: 'the admin API needs an administrator role' })
    await next()
  }))
  const body = async (c: { req: { json: () => Promise<unknown> } }): Promise<unknown> => {
    try { return await c.req.json() } catch { throw new HTTPException(400, { message: 'body: expected JSON' }) }
  }
  /** Applies a change and answers with the new version. */
  const change = (f: (m: SecurityModel) => SecurityModel): { version: number } => ({ version: security.change(f).version })

  app.get('/model', c => c.json(security.model))
  app.post('/business-units', async c => { const b = await body(c); return c.json(change(m => admin.addBusinessUnit(m, b)), 201) })
  app.post('/users', async c => { const b = await body(c); return c.json(change(m => admin.addUser(m, b)), 201) })
  app.patch('/users/:id', async c => {
    const b = await body(c)
    const id = c.req.param('id')
    const disabledBefore = security.index.user(id)?.disabled === true
    const answer = change(m => admin.updateUser(m, id, b))
    // Disabling ends every sign-in too: enabling again does not bring old sessions back.
    if (!disabledBefore && security.index.user(id)?.disabled === true) auth.revokeTokens(id)
    return c.json(answer)
  })
  // Passwords and tokens are not part of the model (no version): they answer what was done.
  app.put('/users/:id/password', async c => {
    const { password } = admin.parsePasswordChange(security.model, c.req.param('id'), await body(c))
    await auth.setPassword(c.req.param('id'), password)
    return c.json({ passwordSet: true })
  })
  app.post('/users/:id/revoke-tokens', c => {
    if (security.index.user(c.req.param('id')) === undefined) throw new admin.AdminError('id', `no user ${JSON.stringify(c.req.param('id'))}`)
    auth.revokeTokens(c.req.param('id'))
    return c.json({ revoked: true })
  })
  app.put('/users/:id/roles', async c => { const b = await body(c); return c.json(change(m => admin.setRoles(m, 'user', c.req.param('id'), b))) })
  app.post('/teams', async c => { const b = await body(c); return c.json(change(m => admin.addTeam(m, b)), 201) })
  app.put('/teams/:id/members', async c => { const b = await body(c); return c.json(change(m => admin.setTeamMembers(m, c.req.param('id'), b))) })
  app.put('/teams/:id/roles', async c => { const b = await body(c); return c.json(change(m => admin.setRoles(m, 'team', c.req.param('id'), b))) })
  app.put('/roles', async c => { const b = await body(c); return c.json(change(m => admin.putRole(m, catalog, b))) })
  app.put('/hierarchy', async c => { const b = await body(c); return c.json(change(m => admin.setHierarchy(m, b))) })
  app.put('/secured-fields', async c => { const b = await body(c); return c.json(change(m => admin.setSecuredField(m, catalog, b))) })
  app.get('/profiles', c => c.json({ profiles: security.model.profiles ?? [] }))
  // The answer carries what the profile is allowed but discouraged to do (business-unit scope, ...).
  app.put('/profiles', async c => {
    const profile = parseProfile(catalog, await body(c))
    const { version } = change(m => admin.putProfile(m, catalog, profile))
    return c.json({ version, warnings: admin.profileWarnings(security.model, profile) })
  })
  app.put('/field-profiles', async c => { const b = await body(c); return c.json(change(m => admin.putFieldProfile(m, catalog, b))) })
  return app
}
