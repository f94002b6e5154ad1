// Attachments over HTTP: resumable, hash-checked uploads of content-addressed blobs (each user sees
// and continues only their own uploads), and the download of a note's attachment for users who may
// read the record.

import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { bodyLimit } from 'hono/body-limit'
import * as Y from 'yjs'
import type { Catalog } from '../docs/catalog-types.ts'
import { mayAccess } from '../authz/decide.ts'
import { docName, isValidId, type RecordId } from '../ids.ts'
import { CONTENT_HASH, NOTES } from '../docs/record.ts'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'
import { BlobError, type BlobStore } from './storage/blob-port.ts'

/** The largest chunk one PUT may carry. */
export const MAX_CHUNK_BYTES = 1024 * 1024

/** What a download reads of the content at a time. */
export const DOWNLOAD_SLICE_BYTES = 64 * 1024

/**
 * A blob's content as a stream read a slice at a time, as the client takes it: read whole, each download
 * held its content in memory until its client read it, and one that never did held it for good
 * (test/security/attachment-downloads.test.ts).
 */
const contentStream = (blobs: BlobStore, hash: string, size: number): ReadableStream<Uint8Array<ArrayBuffer>> => {
  let at = 0
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull: async controller => {
      if (at >= size) { controller.close(); return }
      const slice = await blobs.slice(hash, at, Math.min(DOWNLOAD_SLICE_BYTES, size - at))
      if (slice.length === 0) { controller.error(new Error(`the content of ${hash} ends at ${at} of ${size} bytes`)); return }
      at += slice.length
      controller.enqueue(slice as Uint8Array<ArrayBuffer>)
    }
  }, { highWaterMark: 0 })
}

const whole = (v: string | undefined, name: string): number => {
  const n = Number(v)
  if (v === undefined || v === '' || !Number.isSafeInteger(n) || n < 0) throw new HTTPException(400, { message: `${name}: expected a whole number of bytes` })
  return n
}

export const blobRoutes = (blobs: BlobStore, catalog: Catalog, security: Security, rooms: Rooms): Hono => {
  const app = new Hono()

  app.get('/blobs/:hash', async c => {
    const hash = c.req.param('hash')
    if (!CONTENT_HASH.test(hash)) throw new HTTPException(400, { message: 'a blob is named by its sha-256 hash: 64 lowercase hex digits' })
    // Only the caller's own upload: whether anyone else holds this content is not revealed.
    const s = await blobs.status(c.get('principal').userId, hash)
    if (s === undefined) return c.json({ size: null, received: 0, complete: false }, 404)
    return c.json(s)
  })

  /** PUT /blobs/<sha-256>?size=<whole size>&offset=<where this chunk starts>, the chunk as the body. */
  app.put('/blobs/:hash', bodyLimit({
    // Enforced while the body streams in (a chunked body has no length to check first).
    maxSize: MAX_CHUNK_BYTES, onError: c => c.json({ error: `a chunk may have at most ${MAX_CHUNK_BYTES} bytes`, received: null }, 413)
  }), async c => {
    const size = whole(c.req.query('size'), 'size')
    const offset = whole(c.req.query('offset'), 'offset')
    const chunk = new Uint8Array(await c.req.arrayBuffer())
    // A refused chunk (BlobError) is answered from its code by app.onError, with what the server holds.
    return c.json(await blobs.write(c.get('principal').userId, c.req.param('hash'), size, offset, chunk))
  })

  app.get('/records/:entity/:id/notes/:noteId/attachment', async c => {
    const entity = catalog.entities.get(c.req.param('entity'))
    const id = c.req.param('id')
    if (entity === undefined) throw new HTTPException(404, { message: `unknown entity ${JSON.stringify(c.req.param('entity'))}` })
    if (!isValidId(id)) throw new HTTPException(400, { message: 'invalid record id' })
    const name = docName(entity.name, id as RecordId)
    const room = rooms.get(name)
    try {
      await room.ready
      const owner = room.ownership()
      const userId = c.get('principal').userId
      if (owner === undefined || !mayAccess(security.index, userId, 'read', entity.name, owner).allowed) throw new HTTPException(404, { message: `no readable record ${name}` })
      const found = room.doc.getMap<Y.Map<string>>(NOTES).get(c.req.param('noteId'))
      const note: Y.Map<string> = found instanceof Y.Map ? found : new Y.Map()
      const hash = note.get('contenthash')
      if (hash === undefined) throw new HTTPException(404, { message: 'this note has no attachment' })
      const size = await blobs.size(hash)
      if (size === undefined) throw new HTTPException(404, { message: 'the attachment content has not been uploaded' })
      const type = /^[\w.+-]+\/[\w.+-]+$/.test(note.get('mimetype') ?? '') ? note.get('mimetype')! : 'application/octet-stream'
      return c.body(contentStream(blobs, hash, size), 200, {
        'content-type': type, 'content-length': String(size), 'x-content-hash': hash,
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(note.get('filename') ?? 'attachment')}`,
        // The type is the uploader's word: never sniffed into another, and never run as a page of this origin.
        'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; sandbox"
      })
    } finally {
      rooms.released(name)
    }
  })

  return app
}
