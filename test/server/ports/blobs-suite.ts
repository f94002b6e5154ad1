// The tests every blob-store adapter passes: chunked, resumable, per-uploader uploads of
// content-addressed blobs.

import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { BlobError, type BlobStore } from '../../../src/server/storage/blob-port.ts'

export interface BlobsHarness {
  readonly blobs: BlobStore
  /** moves the store's clock (ms) */
  advance (ms: number): void
  dispose (): Promise<void>
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255)

/** The BlobError a write is refused with. */
const refusal = async (write: () => unknown): Promise<BlobError> => {
  try { await write() } catch (e) { if (e instanceof BlobError) return e; throw e }
  throw new Error('the write was not refused')
}

/** `open(maxBytes, maxUserBytes)` gives a fresh store taking blobs of at most `maxBytes`, and at most `maxUserBytes` of one user's. */
export const describeBlobs = (adapter: string, open: (maxBytes: number, maxUserBytes?: number) => Promise<BlobsHarness>): void => {
  describe(`${adapter} blobs`, () => {
    it('takes a blob in chunks at the offset reached so far, and keeps it once it matches its hash', async () => {
      const h = await open(1000)
      try {
        const data = bytes(300)
        const hash = sha(data)
        expect(h.blobs.maxBytes).toBe(1000)
        expect(await h.blobs.status('u1', hash)).toBeUndefined()
        expect(await h.blobs.write('u1', hash, 300, 0, data.subarray(0, 100))).toEqual({ size: 300, received: 100, complete: false })
        // A resumed upload must continue where it stopped: the refusal says where.
        const wrong = await refusal(() => h.blobs.write('u1', hash, 300, 50, data.subarray(50, 100)))
        expect([wrong.code, wrong.received]).toEqual(['blob-offset', 100])
        expect(await h.blobs.status('u1', hash)).toEqual({ size: 300, received: 100, complete: false })
        expect(await h.blobs.read(hash)).toBeUndefined()
        expect(h.blobs.uploadedSize('u1', hash)).toBeUndefined()
        expect(await h.blobs.write('u1', hash, 300, 100, data.subarray(100))).toEqual({ size: 300, received: 300, complete: true })
        expect(Buffer.from((await h.blobs.read(hash))!)).toEqual(Buffer.from(data))
        expect(h.blobs.uploadedSize('u1', hash)).toBe(300)
        expect(await h.blobs.status('u1', hash)).toEqual({ size: 300, received: 300, complete: true })
      } finally {
        await h.dispose()
      }
    })

    it('reads a complete blob\'s size and any slice of its content, across the parts it was uploaded in', async () => {
      const h = await open(1000)
      try {
        const data = bytes(300, 5)
        const hash = sha(data)
        expect(await h.blobs.size(hash)).toBeUndefined()
        for (const [from, to] of [[0, 70], [70, 200], [200, 300]]) await h.blobs.write('u1', hash, 300, from, data.subarray(from, to))
        expect(await h.blobs.size(hash)).toBe(300)
        for (const [start, length] of [[0, 300], [0, 64], [60, 20], [69, 2], [70, 130], [150, 500], [299, 1], [0, 1000], [300, 10]]) {
          expect(Buffer.from(await h.blobs.slice(hash, start, length)), `${start}+${length}`).toEqual(Buffer.from(data.subarray(start, start + length)))
        }
      } finally {
        await h.dispose()
      }
    })

    it('keeps uploads per uploader: another user neither sees one nor owns the content until uploading it whole', async () => {
      const h = await open(1000)
      try {
        const data = bytes(200, 7)
        const hash = sha(data)
        await h.blobs.write('u1', hash, 200, 0, data)
        expect(await h.blobs.status('u2', hash)).toBeUndefined()
        expect(h.blobs.uploadedSize('u2', hash)).toBeUndefined()
        expect(await h.blobs.write('u2', hash, 200, 0, data.subarray(0, 150))).toEqual({ size: 200, received: 150, complete: false })
        expect(await h.blobs.write('u2', hash, 200, 150, data.subarray(150))).toEqual({ size: 200, received: 200, complete: true })
        expect(h.blobs.uploadedSize('u2', hash)).toBe(200)
      } finally {
        await h.dispose()
      }
    })

    it('refuses bad names, sizes and chunks, and discards content that does not match its hash', async () => {
      const h = await open(100)
      try {
        const data = bytes(50)
        expect((await refusal(() => h.blobs.write('u1', 'NOT-A-HASH', 50, 0, data))).code).toBe('blob-invalid')
        expect((await refusal(() => h.blobs.write('u1', sha(data), 0, 0, data))).code).toBe('blob-invalid')
        expect((await refusal(() => h.blobs.write('u1', sha(bytes(101)), 101, 0, bytes(101)))).code).toBe('blob-too-large')
        expect((await refusal(() => h.blobs.write('u1', sha(data), 50, 0, bytes(60)))).code).toBe('blob-invalid')
        const other = sha(bytes(50, 9))
        const mismatch = await refusal(() => h.blobs.write('u1', other, 50, 0, data))
        expect([mismatch.code, mismatch.received]).toEqual(['blob-hash-mismatch', 0])
        expect(await h.blobs.status('u1', other)).toBeUndefined()
        expect(await h.blobs.read(other)).toBeUndefined()
      } finally {
        await h.dispose()
      }
    })

    it('bounds what one user\'s attachments take: content uploaded whole and uploads in progress at their size', async () => {
      const h = await open(1000, 1500)
      try {
        const [a, b, c, d] = [bytes(600, 1), bytes(600, 2), bytes(400, 3), bytes(1000, 4)]
        expect(h.blobs.maxUserBytes).toBe(1500)
        expect((await h.blobs.write('u1', sha(a), 600, 0, a)).complete).toBe(true)
        expect((await h.blobs.write('u1', sha(b), 600, 0, b.subarray(0, 10))).received).toBe(10) // in progress: 600 counted
        const over = await refusal(() => h.blobs.write('u1', sha(c), 400, 0, c))
        expect(over.code).toBe('blob-quota')
        expect(await h.blobs.status('u1', sha(c))).toBeUndefined()
        // Others are not held back by u1, and content u1 holds already costs nothing again.
        expect((await h.blobs.write('u2', sha(d), 1000, 0, d)).complete).toBe(true)
        expect((await h.blobs.write('u1', sha(a), 600, 0, a)).complete).toBe(true)
        // The upload in progress goes on (its size was counted when it started); once it is removed, there is room.
        expect((await h.blobs.write('u1', sha(b), 600, 10, b.subarray(10, 20))).received).toBe(20)
        h.advance(10_000)
        expect(await h.blobs.removeAbandoned(5_000)).toBe(1)
        expect((await h.blobs.write('u1', sha(c), 400, 0, c)).complete).toBe(true)
      } finally {
        await h.dispose()
      }
    })

    it('removes partial uploads whose last chunk is older than the age given, and nothing complete', async () => {
      const h = await open(1000)
      try {
        const old = bytes(100, 3)
        const recent = bytes(100, 4)
        const whole = bytes(10, 5)
        await h.blobs.write('u1', sha(old), 100, 0, old.subarray(0, 10))
        await h.blobs.write('u1', sha(whole), 10, 0, whole)
        h.advance(5000)
        await h.blobs.write('u1', sha(recent), 100, 0, recent.subarray(0, 10))
        h.advance(1000)
        expect(await h.blobs.removeAbandoned(3000)).toBe(1)
        expect(await h.blobs.status('u1', sha(old))).toBeUndefined()
        expect(await h.blobs.status('u1', sha(recent))).toEqual({ size: 100, received: 10, complete: false })
        expect(await h.blobs.status('u1', sha(whole))).toEqual({ size: 10, received: 10, complete: true })
      } finally {
        await h.dispose()
      }
    })
  })
}
