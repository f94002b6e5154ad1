// The /sync adapter: one y-websocket connection to one record (or one secured field's document). It
// decodes y-websocket frames into calls of the room's typed API and encodes what the room tells its
// member back into y-websocket frames; the room itself knows no wire format.

import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Catalog } from '../docs/catalog-types.ts'
import { docName, fieldDocName, isValidId, type DocName, type RecordId } from '../ids.ts'
import { isSecured } from '../authz/decide.ts'
import { CloseCode, closeCodeOf, MessageType, SyncStep } from '../protocol/codes.ts'
import { decodeSyncMessage, encodeAwareness, encodeReceipts, encodeSyncUpdate } from '../protocol/sync-messages.ts'
import { FieldsyncError, MalformedMessage } from '../errors.ts'
import type { Room, RoomMember } from './room.ts'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'
import { guardSocket, type SocketGuard } from './socket-guard.ts'
import { tokenOf, type Principal } from './auth.ts'
import type { SocketEvents } from './websockets.ts'

export interface SyncAdapterDeps {
  readonly catalog: Catalog
  readonly security: Security
  readonly rooms: Rooms
  /** the most a socket may have unsent (README, MAX_SEND_BUFFER_BYTES) */
  readonly maxSendBufferBytes: number
  /** registers an open socket of `principal` opened with `token`; `expire` closes it when its sign-in ends. Returns the unregistration. */
  readonly track?: (principal: Principal, token: string, expire: () => void) => () => void
}

/** What a /sync connection sends: y-websocket frames over a guarded socket. */
export interface SyncConnection {
  readonly principal: string
  readonly delivered: number | undefined
  /** whether the connection asked for receipts (`?receipts=1`) */
  readonly wantsReceipts: boolean
  send (frame: Uint8Array): void
  close (code: Parameters<RoomMember['close']>[0], reason: string): void
}

/** A published update's frame, encoded once for all the record's connections: publish hands one update to
 * every member in turn, so the last one framed is kept. (Not a WeakMap of every update: its entries cost
 * more than framing a small update again when a frame is asked for out of turn.) */
let lastPublished: { readonly update: Uint8Array, readonly frame: Uint8Array } | undefined
const publishedFrame = (update: Uint8Array): Uint8Array => {
  if (lastPublished?.update === update) return lastPublished.frame
  const frame = encodeSyncUpdate(SyncStep.update, update)
  lastPublished = { update, frame }
  return frame
}

/** A /sync connection as a room member: every call becomes the y-websocket frame saying it. */
export const syncMember = (c: SyncConnection): RoomMember => ({
  principal: c.principal,
  delivered: c.delivered,
  update: (update, why) => c.send(why === 'reply' ? encodeSyncUpdate(SyncStep.step2, update) : why === 'published' ? publishedFrame(update) : encodeSyncUpdate(SyncStep.update, update)),
  needState: stateVector => c.send(encodeSyncUpdate(SyncStep.step1, stateVector)),
  receipts: list => { if (c.wantsReceipts) c.send(encodeReceipts(list)) },
  presence: update => c.send(encodeAwareness(update)),
  close: (code, reason) => c.close(code, reason)
})

/** Starts the y-websocket handshake: the record's state vector (step 1), then its presence (on join). */
export const joinSync = (room: Room, member: RoomMember, send: (frame: Uint8Array) => void): void => {
  send(encodeSyncUpdate(SyncStep.step1, room.stateVector()))
  room.join(member)
}

/** Hands one frame to the room's API. Throws on a frame that does not decode (the caller closes the member). */
export const receiveSync = (room: Room, member: RoomMember, frame: Uint8Array): void => {
  const m = decodeSyncMessage(frame)
  switch (m.type) {
    case MessageType.sync:
      if (m.step === SyncStep.step1) room.requestState(member, m.payload)
      else void room.submit(member, m.payload)
      return
    case MessageType.awareness: room.presence(member, m.update); return
    case MessageType.queryAwareness: room.queryPresence(member); return
    case MessageType.receipts: throw new MalformedMessage(`unknown message type ${m.type}`) // the server's to send
  }
}

/** Hands a frame to its room; bad input closes only this member. */
const deliver = (room: Room, member: RoomMember, frame: Uint8Array): void => {
  try {
    receiveSync(room, member, frame)
  } catch (e) {
    // Decoding and queueing throw about the frame; Yjs's and y-protocols' readers throw plain errors,
    // taken as the malformed message they report.
    const error = e instanceof FieldsyncError ? e : new MalformedMessage((e as Error).message, { cause: e })
    member.close(closeCodeOf(error), `malformed message: ${error.message}`.slice(0, 120))
  }
}

/** The record a /sync URL names: a record's document, or (with an attribute) one of its secured fields'. */
const recordOf = (c: Context, catalog: Catalog, security: Security): DocName => {
  const entity = c.req.param('entity') ?? ''
  const id = c.req.param('id') ?? ''
  const attribute = c.req.param('attribute')
  const def = catalog.entities.get(entity)
  if (def === undefined) throw new HTTPException(404, { message: `unknown entity ${JSON.stringify(entity)}` })
  if (!isValidId(id)) throw new HTTPException(400, { message: 'invalid record id' })
  if (attribute !== undefined && !def.attributes.some(a => a.name === attribute)) throw new HTTPException(404, { message: `${entity} has no attribute ${JSON.stringify(attribute)}` })
  if (attribute !== undefined && !isSecured(security.model, entity, attribute)) throw new HTTPException(404, { message: `${entity}.${attribute} is not a secured field: it is part of the record's document` })
  return attribute === undefined ? docName(entity, id as RecordId) : fieldDocName(docName(entity, id as RecordId), attribute)
}

/** Messages a /sync socket may send before its record is ready (y-websocket sends a step 1, an awareness
 * update and perhaps a few edits): more, or more bytes, close it with 4429. */
export const MAX_EARLY_FRAMES = 64
export const MAX_EARLY_BYTES = 4 * 1024 * 1024

/** The websocket events of one /sync upgrade (pass to upgradeWebSocket, websockets.ts, after authentication). */
export const syncEvents = (deps: SyncAdapterDeps) => async (c: Context): Promise<SocketEvents> => {
  const { catalog, security, rooms } = deps
  const name = recordOf(c, catalog, security)
  const principal: Principal = c.get('principal')
  const firstRoom = rooms.get(name)
  try {
    await firstRoom.ready
  } catch (e) {
    rooms.released(name)
    console.error(`record ${name} failed to load: ${(e as Error).message}`)
    throw new HTTPException(503, { message: 'record unavailable' })
  }
  // The check's use of the room is given back now: an upgrade may never open its socket (a handshake the
  // ws library refuses, a connection reset), and nothing it took may outlive it. The socket takes its own.
  const may = firstRoom.mayOpen(security.index, principal.userId)
  rooms.released(name)
  if (!may) throw new HTTPException(403, { message: `no read access to ${name}` })
  // The privileges the device last received: what it says (?pv=) or what the server last gave it.
  const pv = Number(c.req.query('pv'))
  const delivered = Number.isInteger(pv) && pv > 0 && pv <= security.index.version ? pv : security.delivered(principal.userId)
  const wantsReceipts = c.req.query('receipts') === '1'
  let room: Room | null = null
  let member: RoomMember | null = null
  let guard: SocketGuard | null = null
  let untrack: (() => void) | undefined
  const token = tokenOf(c.req.header('authorization'), c.req.query('token'))
  const early: Uint8Array[] = []
  let earlyBytes = 0
  return {
    onOpen (_evt, ws) {
      // A slow consumer or an expired token: the member leaves the record now, not after the handshake.
      const socket = guard = guardSocket(ws.raw!, { maxSendBufferBytes: deps.maxSendBufferBytes, expiresAt: principal.expiresAt, closing: () => { if (room !== null && member !== null) room.leave(member) } })
      if (token !== undefined) untrack = deps.track?.(principal, token, () => socket.expire('the sign-in ended'))
      const m = member = syncMember({ principal: principal.userId, delivered, wantsReceipts, send: b => socket.send(b), close: (code, reason) => socket.close(code, reason) })
      // The socket's own use of the room, given back when it closes. (The room may have been unloaded since
      // the upgrade's check, a new name's at once: it is loaded again, and checked again once ready.)
      const r = rooms.get(name)
      r.ready.then(() => {
        if (ws.readyState !== 1) return
        if (!r.mayOpen(security.index, principal.userId)) { m.close(CloseCode.readRevoked, 'read access revoked'); return }
        room = r
        joinSync(r, m, b => socket.send(b))
        for (const f of early.splice(0)) deliver(r, m, f)
      }, () => m.close(CloseCode.internalError, 'record unavailable'))
    },
    onMessage (evt) {
      if (member === null) return
      if (!(evt.data instanceof ArrayBuffer)) { member.close(CloseCode.malformed, 'text frames are not part of the protocol'); return }
      const f = new Uint8Array(evt.data)
      if (room !== null) { deliver(room, member, f); return }
      // Kept until the record is ready, within bounds: a socket that never joins (its record failed, or
      // its read access went while it opened) must not make the server keep what it goes on sending.
      earlyBytes += f.byteLength
      if (early.length >= MAX_EARLY_FRAMES || earlyBytes > MAX_EARLY_BYTES) { early.length = 0; member.close(CloseCode.rateLimited, 'too many messages before the record was ready'); member = null; return }
      early.push(f)
    },
    onClose () {
      untrack?.()
      guard?.dispose()
      if (room !== null && member !== null) room.leave(member)
      rooms.released(name)
      // Whatever this device synced, it synced under the privileges of now.
      security.setDelivered(principal.userId, security.index.version)
    }
  }
}
