// Wires the server: hono routes, the /sync and /device adapters, rooms over storage. The one place subsystems meet.

import { Hono } from 'hono'
import { cors } from 'hono/cors'
import { serve, type ServerType } from '@hono/node-server'
import type { Catalog } from '../docs/catalog-types.ts'
import { placeSecuredValues } from './secured-fields.ts'
import { answerError } from './http-errors.ts'
import type { RecordStorage } from './storage/port.ts'
import type { Security } from './security.ts'
import { adminRoutes } from './admin-routes.ts'
import { recordRoutes, storedOwnership, storedRow } from './record-routes.ts'
import type { ServerConfig } from './config.ts'
import { requireToken, tokenOf, type Principal } from './auth.ts'
import { Authenticator } from './authenticator.ts'
import { authRoutes } from './auth-routes.ts'
import type { ExternalVerifier } from './oidc.ts'
import { isoNow, Rooms } from './rooms.ts'
import type { CommittedEvent } from './room-events.ts'
import { CommandRunner } from './commands.ts'
import { blobRoutes } from './blob-routes.ts'
import { CloseCode } from '../protocol/codes.ts'
import { syncEvents } from './sync-adapter.ts'
import { indexPage } from './index-page.ts'
import { appRoutes } from './app-routes.ts'
import { DeviceSession } from './device-session.ts'
import { HeldRecords } from './held-records.ts'
import { ScopeRowIndex } from './scope-rows.ts'
import { guardSocket, type SocketGuard } from './socket-guard.ts'
import { noteAccepted, pacedUpgrades } from './pacing.ts'
import { nodeWebSockets } from './websockets.ts'
import type { ChangesFeed } from './storage/feed-port.ts'
import type { ReceiptStore } from './storage/receipt-port.ts'
import type { ProjectionReader } from './storage/projection-port.ts'
import type { BlobStore } from './storage/blob-port.ts'
import type { DeviceHoldings } from './storage/holdings-port.ts'
import { NO_METADATA, type Metadata } from '../metadata/metadata.ts'
import { shareDelta } from '../authz/share-delta.ts'
import type { ModelIndex } from '../authz/decide.ts'
import { fieldDocName, type DocName } from '../ids.ts'
import { startFanOut, type FanOut } from './fan-out.ts'

/** The documents of a record's secured fields (whether or not they exist). */
const securedDocs = (ix: ModelIndex, record: string): DocName[] =>
  ix.model.securedFields.filter(f => f.startsWith(`${record.slice(0, record.indexOf('/'))}.`)).map(f => fieldDocName(record, f.slice(f.indexOf('.') + 1)))

/** What the server runs on: storage ports (src/server/storage/*-port.ts), whatever adapters are behind them. */
export interface ServerDeps {
  readonly config: ServerConfig
  readonly catalog: Catalog
  /** the record log */
  readonly storage: RecordStorage
  /** the record log read by position */
  readonly feed: ChangesFeed
  /** the relational projection (rows written with each commit) */
  readonly projection: ProjectionReader
  /** receipts (written with each commit) */
  readonly receipts: ReceiptStore
  /** what each device holds */
  readonly holdings: DeviceHoldings
  /** the security model, over its store */
  readonly security: Security
  readonly secret: string
  /** attachment content (content-addressed blobs) */
  readonly blobs: BlobStore
  /** views and other offline metadata (none when absent) */
  readonly metadata?: Metadata
  readonly now?: () => string
  /** the clock of sign-in, tokens and their limits, ms (injected by tests) */
  readonly clock?: () => number
  /** the identity provider's token verifier (by default built from config.oidc) */
  readonly external?: ExternalVerifier
  /** where the built app is (default dist/app of this checkout) */
  readonly appDir?: string
  /** the Yjs client id this instance writes under, when instances share the store (config.redis: it also
   * names the instance on the fan-out) */
  readonly serverClient?: number
}

export interface FieldsyncServer {
  readonly app: Hono
  readonly rooms: Rooms
  /** tokens, sign-in, renewal */
  readonly authenticator: Authenticator
  /** listens on config.port (0 = a free port) and resolves with the bound port */
  listen (): Promise<number>
  /** stops accepting, closes every socket with 1001, commits what is queued */
  close (): Promise<void>
}

export const createServer = (deps: ServerDeps): FieldsyncServer => {
  const { config, catalog, storage, projection, receipts, security, secret } = deps
  const now = deps.now ?? isoNow()
  const app = new Hono()
  const metadata = deps.metadata ?? NO_METADATA
  const rooms = new Rooms({
    storage, catalog, security, now, idleUnloadMs: config.idleUnloadMs, maxIdleRooms: config.maxIdleRooms, maxIdleBytes: config.maxIdleBytes, compactAfter: config.compactAfter, limits: config.limits,
    rules: metadata.businessRules, flows: metadata.processFlows, blobSize: (userId, hash) => deps.blobs.uploadedSize(userId, hash),
    ownershipOf: name => storedOwnership(projection, name), storedRow: name => storedRow(projection, name), conflicts: metadata.conflicts, maxClockSkewMs: config.maxClockSkewMs, wholeRefusals: config.wholeRefusals, stateReplies: config.stateReplies,
    serverClient: deps.serverClient
  })
  // A privilege change takes read access away at once: close those sockets now.
  const sessions = new Set<DeviceSession>()
  const sessionsByDevice = new Map<string, DeviceSession>()
  // Secured fields' values live in their own documents: placed at start and whenever the list changes.
  let placing: Promise<unknown> = Promise.resolve()
  const place = (): Promise<unknown> => {
    placing = placing.then(() => placeSecuredValues(rooms, storage, catalog, security)).catch(e => console.error(`placing secured fields: ${(e as Error).message}`))
    return placing
  }
  let securedBefore = JSON.stringify(security.model.securedFields)
  let before = security.index
  const unsubscribe = security.onChange(ix => {
    // A user enabled again: the sockets left open while disabled (for their evictions) belong to sign-ins
    // that ended with the disabling; they close now, before the privileges come back to them.
    for (const userId of [...openSockets.keys()]) if (before.user(userId)?.disabled === true && ix.user(userId)?.disabled !== true) closeEnded(userId)
    rooms.revokeUnreadable(ix)
    // Shares alone changed: only the sharees' devices look again, at those records only.
    const delta = shareDelta(before.model, ix.model)
    before = ix
    for (const s of sessions) {
      if (delta === null) { s.privilegesChanged(ix); continue }
      const mine = ix.principalsOf(s.userId)
      if (![...delta.added, ...delta.removed].some(sh => mine.has(sh.principal))) continue
      s.privilegesChanged(ix, delta.removed.filter(sh => mine.has(sh.principal)).flatMap(sh => [sh.record as DocName, ...securedDocs(ix, sh.record)]))
    }
    const secured = JSON.stringify(ix.model.securedFields)
    if (secured !== securedBefore) { securedBefore = secured; void place() }
  })
  const commands = new CommandRunner(rooms, catalog, metadata.leadQualification)
  // Abandoned partial uploads go after BLOB_UPLOAD_TTL_SECONDS: swept now (they may have been left
  // before a restart) and then every min(TTL, 1 h).
  const uploadTtlMs = config.blobUploadTtlSeconds * 1000
  const sweepUploads = (): void => { Promise.resolve(deps.blobs.removeAbandoned(uploadTtlMs)).catch(e => console.error(`removing abandoned uploads: ${(e as Error).message}`)) }
  sweepUploads()
  const uploadSweep = setInterval(sweepUploads, Math.min(uploadTtlMs, 3_600_000))
  uploadSweep.unref()
  // What open devices hold is in memory, indexed by record: a commit costs what holds its record.
  const holdings = new HeldRecords(deps.holdings)
  // Offline scopes are computed from an index of the projected rows, kept current from the feed.
  const scopeRows = new ScopeRowIndex(catalog, projection, deps.feed)
  scopeRows.warm(security.index.model.profiles).catch(e => console.error(`loading the offline scope index: ${(e as Error).message}`))
  const onCommitted = ({ record }: CommittedEvent): void => { for (const d of holdings.holdersOf(record)) sessionsByDevice.get(d)?.recordChanged(record) }
  rooms.events.on('committed', onCommitted)
  // ws closes a socket whose frame is larger than this with 1009, before we see any of it.
  const sockets = nodeWebSockets(app, config.maxFrameBytes)
  const { upgradeWebSocket, wss } = sockets
  const authenticator = new Authenticator({ security, secret, config, clock: deps.clock, external: deps.external })
  const auth = requireToken(token => authenticator.authenticate(token), { fromQuery: false })
  const socketAuth = requireToken(token => authenticator.authenticate(token), { fromQuery: true })
  // Open sockets by user, with the token each was opened with: when sign-ins of a user end (revoked,
  // signed out), the sockets whose tokens are no longer taken close with 4401 at once.
  const openSockets = new Map<string, Set<{ readonly token: string, readonly expire: () => void }>>()
  const track = (principal: Principal, token: string, expire: () => void): (() => void) => {
    const entry = { token, expire }
    let set = openSockets.get(principal.userId)
    if (set === undefined) { set = new Set(); openSockets.set(principal.userId, set) }
    set.add(entry)
    return () => { set.delete(entry); if (set.size === 0 && openSockets.get(principal.userId) === set) openSockets.delete(principal.userId) }
  }
  /** Closes (4401) the user's sockets whose tokens are no longer taken. */
  const closeEnded = (userId: string): void => {
    for (const s of [...openSockets.get(userId) ?? []]) {
      const taken = authenticator.stillTaken(s.token)
      if (taken === false) s.expire()
      else if (taken === undefined) void authenticator.authenticate(s.token).then(a => { if (!a.ok) s.expire() }, () => {})
    }
  }
  const stopTracking = authenticator.onSignInsEnded(userId => {
    // A disabled user holds no privileges: /sync sockets have closed (4403) and devices are being sent
    // their evictions, which closing them now would cut short (nothing else reaches them, no edit lands).
    // Enabled again, the user's sockets of ended sign-ins close then (security.onChange above).
    if (security.index.user(userId)?.disabled === true) return
    closeEnded(userId)
  })

  app.onError(answerError)

  // (`scopeIndex`: whether the index offline scopes are computed from is loaded yet, after a start.)
  app.get('/healthz', c => c.json({ ok: true, loadedRecords: rooms.loaded, scopeIndex: scopeRows.warmed ? 'loaded' : 'loading' }))
  // Public: outside demo mode it shows no record, so none is read (listing scans the whole log).
  app.get('/about', async c => c.html(indexPage(config, security.model.org, config.demo ? await storage.list() : [])))
  app.route('/', appRoutes(deps.appDir))
  // Device apps may be served from another origin; access is by bearer token (no cookies), so any
  // origin may call the API and preflight requests are answered before authentication.
  app.use('/api/*', cors({ origin: '*', allowHeaders: ['authorization', 'content-type'], allowMethods: ['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS'], exposeHeaders: ['x-content-hash', 'retry-after'] }))
  app.use('/api/*', auth)
  app.route('/api/admin', adminRoutes(security, catalog, authenticator))
  app.route('/api', recordRoutes(catalog, security, projection, receipts, rooms, now, config.shareLimits))
  app.route('/api', blobRoutes(deps.blobs, catalog, security, rooms))

  // Sign-in answers tokens in the body, never cookies: an app served from another origin may sign in too.
  app.use('/auth/*', cors({ origin: '*', allowHeaders: ['authorization', 'content-type'], allowMethods: ['POST', 'OPTIONS'], exposeHeaders: ['retry-after'] }))
  app.route('/auth', authRoutes(authenticator, security, { demo: config.demo, trustProxy: config.trustProxy }))

  // A record's document, or (with an attribute) the document of one of its secured fields.
  const syncSocket = upgradeWebSocket(syncEvents({ catalog, security, rooms, maxSendBufferBytes: config.maxSendBufferBytes, track }))
  app.get('/sync/:entity/:id', socketAuth, syncSocket)
  app.get('/sync/:entity/:id/:attribute', socketAuth, syncSocket)

  app.get('/device', socketAuth, upgradeWebSocket(c => {
    const principal = c.get('principal')
    const token = tokenOf(c.req.header('authorization'), c.req.query('token'))
    let session: DeviceSession | null = null
    let guard: SocketGuard | null = null
    let untrack: (() => void) | undefined
    return {
      onOpen (_evt, ws) {
        const socket = guard = guardSocket(ws.raw!, { maxSendBufferBytes: config.maxSendBufferBytes, expiresAt: principal.expiresAt, closing: () => session?.close() })
        session = new DeviceSession({ catalog, security, rooms, feed: deps.feed, holdings, scopeRows, projection, receipts, now, sessions: sessionsByDevice, metadata, commands, maxAttachmentBytes: deps.blobs.maxBytes, maxDevicesPerUser: config.maxDevicesPerUser }, principal.userId,
          b => socket.send(b), (code, reason) => socket.close(code, reason), () => socket.drained())
        sessions.add(session)
        if (token !== undefined) untrack = track(principal, token, () => socket.expire('the sign-in ended'))
      },
      onMessage (evt, ws) {
        if (session === null) return
        if (!(evt.data instanceof ArrayBuffer)) { ws.close(CloseCode.malformed, 'text frames are not part of the protocol'); return }
        session.receive(new Uint8Array(evt.data))
      },
      onClose () {
        untrack?.()
        guard?.dispose()
        if (session !== null) { session.close(); sessions.delete(session) }
        security.setDelivered(principal.userId, security.index.version)
      }
    }
  }))

  let server: ServerType | null = null
  let fanOut: FanOut | null = null
  return {
    app,
    rooms,
    authenticator,
    listen: async () => {
      if (config.redis !== undefined) {
        if (deps.serverClient === undefined) throw new Error('fan-out between instances needs the instance\'s server client id (shared storage)')
        if (storage.locks === undefined) throw new Error('fan-out between instances needs storage they share (record locks)')
        fanOut = await startFanOut({ ...config.redis, instance: deps.serverClient, rooms, security, feed: deps.feed, locks: storage.locks, signIns: authenticator })
      }
      await place()
      return new Promise(resolve => {
        server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, info => resolve(info.port))
        // (Upgrades are handled a paced slice at a time; turns stay short while connections arrive.)
        server.on('connection', noteAccepted)
        sockets.inject(pacedUpgrades(server))
      })
    },
    close: async () => {
      await placing
      clearInterval(uploadSweep)
      unsubscribe()
      stopTracking()
      rooms.events.off('committed', onCommitted)
      // Close every socket and wait for the close handshakes (bounded), so their handlers run now.
      const closing = [...wss.clients].map(ws => new Promise<void>(resolve => {
        const t = setTimeout(() => { ws.terminate(); resolve() }, 1000)
        ws.once('close', () => { clearTimeout(t); resolve() })
        ws.close(CloseCode.goingAway, 'server shutting down')
      }))
      await Promise.all(closing)
      holdings.flush()
      await new Promise<void>(resolve => { if (server === null) resolve(); else server.close(() => resolve()) })
      await rooms.close()
      await fanOut?.close()
    }
  }
}

