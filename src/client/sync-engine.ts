// The device's sync engine: one /device socket, sync cycles on demand and periodically, attachment
// uploads before the edits that point at them (retried with backoff; a record's edits wait for its
// content), local edits sent in order (commands as one frame), and the server's frames applied to the replica.

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { Receipt } from '../protocol/receipts.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, holdingsDigest, readDeviceFrame, type DeviceFrame } from '../protocol/device-frames.ts'
import { CloseCode, SyncStep } from '../protocol/codes.ts'
import { DEFAULT_UPLOAD_BACKOFF, uploadBlob, UploadFailed, UploadRefused, uploadRetryDelay, type Http, type UploadBackoff } from './attachments.ts'
import { contentHashesOf, heldRecords } from './content-gate.ts'
import { currentToken, type TokenSource } from './token.ts'
import type { Replica } from './replica.ts'
import type { PendingUpdate } from './store.ts'
import type { DeviceStatus, Emit } from './events.ts'
import { unexpectedCase } from '../errors.ts'

/** The smallest WebSocket a device needs (the browser's, or the `ws` package on Node). */
export interface SocketLike {
  binaryType: string
  readyState: number
  onopen: ((e: unknown) => void) | null
  onmessage: ((e: { data: unknown }) => void) | null
  onclose: ((e: { code: number, reason: string }) => void) | null
  onerror: ((e: unknown) => void) | null
  send (data: Uint8Array): void
  close (code?: number, reason?: string): void
}

export interface ConnectionOptions {
  /** `ws://host:port` of the server */
  readonly url: string
  /** the token, or a function the SDK calls at every connect and HTTP request for a current one (the
   * server closes a socket whose token expired with 4401; a sync then waiting connects again) */
  readonly token: TokenSource
  readonly WebSocket: new (url: string) => SocketLike
  /** periodic sync interval (ms); 0 for on demand only */
  readonly syncIntervalMs?: number
  /** how long an upload that did not get through waits before periodic syncs try it again (a sync the
   * app asks for tries at once): doubling from `baseMs` up to `maxMs` */
  readonly uploadBackoff?: UploadBackoff
}

interface Waiter { request: number, resolve: () => void, reject: (e: Error) => void }

export class SyncEngine {
  private readonly opts: ConnectionOptions
  private readonly replica: Replica
  private readonly emit: Emit
  private socket: SocketLike | null = null
  /** asking the app for a token before opening a socket */
  private connecting = false
  /** bumped by every connect and disconnect: a connect that waited for its token checks it is still wanted */
  private generation = 0
  /** reconnections after 4401 since the last cycle was done (one per waiting sync) */
  private expiredRetries = 0
  private statusValue: DeviceStatus = 'offline'
  private waiters: Waiter[] = []
  private requests = 0
  private timer: ReturnType<typeof setInterval> | null = null
  /** local edits wait for the next cycle instead of going out live (from connecting until the pending
   * edits went out) */
  private deferred = true
  private uploading: Promise<Error | null> | null = null
  /** telling the server of dismissed inbox items (one run at a time) */
  private dismissals: Promise<void> | null = null
  /** attachment content not uploaded yet (hashes): edits pointing at it wait */
  private readonly waitingContent = new Set<string>()
  /** records whose pending edits wait for content (README, "Attachments") */
  private held = new Set<string>()
  /** uploads that did not get through: how often in a row, and when periodic syncs try again */
  private readonly retries = new Map<string, { failures: number, at: number }>()
  /** the app asked for a sync: the next upload run tries everything now, backoff or not */
  private uploadNow = false
  /** an upload of this request's cycle (or an earlier one) did not get through: its sync rejects */
  private uploadFailure: { request: number, error: Error } | null = null
  /** refresh() calls waiting for a record's server state */
  private readonly refreshes = new Map<string, Waiter[]>()
  /** the server asked for a record's state during this cycle: its answer goes after the cycle's
   * syncNow, so one more round makes sure it was taken before sync() resolves */
  private answeredState = false

  constructor (opts: ConnectionOptions, replica: Replica, emit: Emit) {
    this.opts = opts
    this.replica = replica
    this.emit = emit
    replica.sendLive = f => { if (!this.deferred && this.mayGoLive(f)) this.send(f) }
  }

  /** A live edit goes out unless its record waits for content, or it points at content not uploaded. */
  private mayGoLive (f: DeviceFrame): boolean {
    if (this.held.size === 0 && this.waitingContent.size === 0) return true // (no decoding per keystroke)
    const parts = f.type === DeviceMessage.push ? [f] : f.type === DeviceMessage.command ? f.parts : []
    if (!parts.some(p => this.held.has(p.record) || contentHashesOf(p.update).some(h => this.waitingContent.has(h)))) return true
    for (const p of parts) this.held.add(p.record)
    return false
  }

  get status (): DeviceStatus { return this.statusValue }
  get connected (): boolean { return this.socket?.readyState === 1 }

  private setStatus (s: DeviceStatus): void {
    if (this.statusValue === s) return
    this.statusValue = s
    this.emit('status', [s])
  }

  get http (): Http {
    return { base: this.opts.url.replace(/^ws/, 'http'), token: this.opts.token }
  }

  /** Runs a sync cycle now: pushes local edits, receives what changed; resolves when it is done. It
   * rejects when attachment content did not get through (its notes wait; other edits went out). */
  sync (): Promise<void> {
    this.uploadNow = true
    return this.cycle()
  }

  private cycle (): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = ++this.requests
      this.waiters.push({ request, resolve, reject })
      // A socket still opening sends the newest request once it is open.
      if (this.socket === null) { if (!this.connecting) void this.connect() } else if (this.socket.readyState === 1) void this.flushOutgoing(request)
    })
  }

  /** Edits pointing at this attachment content wait until it is uploaded (call before making them). */
  hold (hash: string): void {
    this.waitingContent.add(hash)
  }

  /** Online with held edits: sync now rather than at the next periodic sync. */
  nudge (): void {
    if (this.connected && (this.deferred || this.held.size > 0)) void this.cycle().catch(() => {})
  }

  /** Syncs every `ms` milliseconds (and now). */
  startPeriodic (ms = this.opts.syncIntervalMs ?? 60_000): void {
    this.stopPeriodic()
    this.timer = setInterval(() => { this.cycle().catch(() => {}) }, ms)
    this.cycle().catch(() => {})
  }

  stopPeriodic (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Fetches one record's server state now. */
  async refresh (record: string): Promise<void> {
    if (!this.connected) throw new Error(`refreshing ${record} needs a connection`)
    const doc = await this.replica.open(record)
    await new Promise<void>((resolve, reject) => {
      const waiting = this.refreshes.get(record) ?? []
      waiting.push({ request: 0, resolve, reject })
      this.refreshes.set(record, waiting)
      this.send({ type: DeviceMessage.sync, record, step: SyncStep.step1, payload: Y.encodeStateVector(doc) })
    })
  }

  private refreshed (record: string): void {
    for (const w of this.refreshes.get(record) ?? []) w.resolve()
    this.refreshes.delete(record)
  }

  /** `refused`: the server closed the last socket because its token expired. */
  private async connect (refused = false): Promise<void> {
    const generation = ++this.generation
    this.connecting = true
    this.setStatus('syncing')
    let token: string
    try {
      token = await currentToken(this.opts.token, { refused })
    } catch (e) {
      if (generation !== this.generation) return
      this.connecting = false
      this.setStatus('error')
      for (const w of this.waiters.splice(0)) w.reject(new Error(`no token to connect with: ${(e as Error).message}`))
      return
    }
    if (generation !== this.generation) return // disconnected meanwhile
    this.connecting = false
    const ws = new this.opts.WebSocket(`${this.opts.url}/device?token=${encodeURIComponent(token)}`)
    ws.binaryType = 'arraybuffer'
    this.socket = ws
    ws.onopen = () => {
      const { meta, metadata } = this.replica
      this.send({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: meta.deviceId, cursor: meta.cursor, privilegeVersion: meta.privilegeVersion, metadataDigest: metadata?.digest ?? 0 })
      // Local edits go first, in order; the server answers them before the cycle's 'done'.
      this.deferred = true
      void this.flushOutgoing(this.requests)
    }
    ws.onmessage = e => {
      if (this.socket !== ws) return // a socket we already let go of
      const data = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : e.data as Uint8Array
      // A server message carries one or more frames.
      const frames: DeviceFrame[] = []
      try {
        const d = decoding.createDecoder(data)
        while (decoding.hasContent(d)) frames.push(readDeviceFrame(d))
      } catch { ws.close(4400, 'malformed server message'); return }
      void this.replica.queue(async () => { for (const f of frames) await this.handle(f) })
    }
    ws.onclose = e => {
      if (this.socket !== ws) return // disconnect() already settled it
      this.socket = null
      // The token expired: a sync still waiting goes on over a new socket with a fresh token.
      if (e.code === CloseCode.tokenExpired && this.waiters.length > 0 && this.expiredRetries < 1) {
        this.expiredRetries++
        this.dropRefreshes()
        void this.connect(true)
        return
      }
      this.dropConnection()
    }
    ws.onerror = () => { this.setStatus('error') }
  }

  /** Closes the socket (the device keeps working offline). */
  disconnect (): void {
    const ws = this.socket
    this.socket = null
    this.generation++
    this.connecting = false
    ws?.close(1000, 'device disconnects')
    this.dropConnection()
  }

  private dropConnection (): void {
    this.setStatus('offline')
    for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed before the sync finished'))
    this.dropRefreshes()
  }

  private dropRefreshes (): void {
    for (const ws of this.refreshes.values()) for (const w of ws) w.reject(new Error('connection closed before the refresh finished'))
    this.refreshes.clear()
  }

  /**
   * Uploads attachment content not on the server yet (one run at a time). Resolves with the first
   * upload that did not get through (it waits with backoff), or null. A final refusal (400, 413, 422)
   * is reported in the inbox and its content no longer waited for: the server drops the note, with a receipt.
   */
  private uploadBlobs (): Promise<Error | null> {
    const { store } = this.replica
    const now = this.uploadNow
    this.uploading ??= (async () => {
      this.uploadNow = false
      let failed: Error | null = null
      try {
        for (const hash of await store.pendingBlobs()) {
          this.waitingContent.add(hash)
          const retry = this.retries.get(hash)
          if (!now && retry !== undefined && retry.at > Date.now()) continue
          const data = await store.blob(hash)
          if (data === undefined) continue
          try {
            const { from } = await uploadBlob(this.http, hash, data)
            this.emit('uploaded', [{ hash, from, size: data.length }])
          } catch (e) {
            if (e instanceof UploadRefused) {
              await this.replica.uploadRefused(hash, data.length, e.status, e.message)
              this.emit('uploadFailed', [{ hash, status: e.status, message: e.message, final: true, retryInMs: null }])
            } else if (e instanceof UploadFailed) {
              const failures = (retry?.failures ?? 0) + 1
              const delay = uploadRetryDelay(failures, this.opts.uploadBackoff ?? DEFAULT_UPLOAD_BACKOFF, e.retryAfterMs)
              this.retries.set(hash, { failures, at: Date.now() + delay })
              this.emit('uploadFailed', [{ hash, status: e.status, message: e.message, final: false, retryInMs: delay }])
              failed ??= e
              continue
            } else throw e
          }
          await store.blobUploaded(hash)
          this.waitingContent.delete(hash)
          this.retries.delete(hash)
        }
      } finally {
        this.uploading = null
      }
      return failed
    })()
    return this.uploading
  }

  /** Tells the server of inbox items dismissed on this device now (online), else at the next sync. */
  sendDismissals (): void {
    if (this.connected) void this.dismissing()
  }

  private dismissing (): Promise<void> {
    // (.finally runs after the assignment, even when there is nothing to send)
    this.dismissals ??= this.postDismissals().finally(() => { this.dismissals = null })
    return this.dismissals
  }

  private async postDismissals (): Promise<void> {
    const seqs = this.replica.meta.dismissals ?? []
    for (let i = 0; i < seqs.length; i += 1000) {
      const part = seqs.slice(i, i + 1000)
      // Not taken now (no connection, a 5xx): they stay and go at the next sync.
      const res = await fetch(`${this.http.base}/api/receipts/dismiss`, {
        method: 'POST', headers: { authorization: `Bearer ${await currentToken(this.opts.token)}`, 'content-type': 'application/json' }, body: JSON.stringify({ seqs: part })
      }).catch(() => null)
      if (res?.ok !== true) return
      await this.replica.dismissalsSent(part)
    }
  }

  /**
   * Uploads attachments, then sends the local edits in order (those of records waiting for content
   * stay), then asks for a cycle. An upload that did not get through makes this request's sync reject
   * once its cycle is done.
   */
  private async flushOutgoing (request: number): Promise<void> {
    let failed: Error | null
    try {
      failed = await this.uploadBlobs()
    } catch (e) {
      this.setStatus('error')
      for (const w of this.waiters.filter(x => x.request <= request)) w.reject(new Error(`attachment upload failed: ${(e as Error).message}`))
      this.waiters = this.waiters.filter(x => x.request > request)
      return
    }
    if (failed !== null) this.uploadFailure = { request: Math.max(request, this.uploadFailure?.request ?? 0), error: failed }
    await this.dismissing()
    await this.replica.queue(async () => {
      const pending = await this.replica.store.pending()
      const held = heldRecords(pending, this.waitingContent)
      const before = this.held
      // After connecting every pending edit goes (the server has none of them live); later only the
      // records that waited and no longer do.
      const release = this.deferred ? (r: string) => !held.has(r) : (r: string) => before.has(r) && !held.has(r)
      this.held = held
      this.deferred = false
      this.sendPending(pending.filter(p => release(p.record)))
      await this.sendSyncNow(request)
    })
  }

  private sendPending (pending: readonly PendingUpdate[]): void {
    const sent = new Set<string>()
    for (const p of pending) {
      if (p.command === undefined) { this.send({ type: DeviceMessage.push, record: p.record, id: p.id, update: p.update }); continue }
      // A command's parts go together, once.
      const { group, name, target } = p.command
      if (sent.has(group)) continue
      sent.add(group)
      const parts = pending.filter(q => q.command?.group === group).map(q => ({ record: q.record, id: q.id, update: q.update }))
      this.send({ type: DeviceMessage.command, command: name, target, parts })
    }
  }

  /** Asks for a cycle, with a summary of what this device holds (after every frame received so far). */
  private async sendSyncNow (request: number): Promise<void> {
    const held = await this.replica.store.records()
    this.send({ type: DeviceMessage.syncNow, request, count: held.length, digest: holdingsDigest(held), receiptSeq: this.replica.meta.receiptSeq })
  }

  private send (f: DeviceFrame): void {
    if (this.socket?.readyState === 1) this.socket.send(encodeDeviceFrame(f))
  }

  /** A store write the frames behind it did not wait for failed. */
  private storeFailed (e: unknown): void {
    console.error(`device store: ${(e as Error).message}`)
    this.setStatus('error')
  }

  private async handle (f: DeviceFrame): Promise<void> {
    const r = this.replica
    switch (f.type) {
      case DeviceMessage.metadata: await r.setMetadata(f.json); return
      case DeviceMessage.sync:
        if (f.step === SyncStep.step1) {
          this.send({ type: DeviceMessage.sync, record: f.record, step: SyncStep.step2, payload: await r.stateFor(f.record, f.payload) })
          this.answeredState = true
          return
        }
        await r.receive(f.record, f.payload)
        this.refreshed(f.record)
        return
      case DeviceMessage.ack: r.acknowledge(f.id).catch(e => this.storeFailed(e)); return
      case DeviceMessage.receipts: await r.addReceipts(JSON.parse(f.json) as Receipt[]); return
      case DeviceMessage.evict: await r.evict(f.record); this.refreshed(f.record); return
      case DeviceMessage.scope: for (const gone of await r.keepOnly(new Set(JSON.parse(f.json) as string[]))) this.refreshed(gone); return
      case DeviceMessage.progress: this.emit('progress', [{ done: f.done, total: f.total, bytes: f.bytes }]); return
      case DeviceMessage.done: {
        const stored = r.finishCycle(f.cursor, f.receiptSeq, f.request > 0)
        // A live or server-started cycle: its writes and cursor are stored with the next group commit.
        if (f.request > 0) await stored
        else stored.catch(e => this.storeFailed(e))
        this.expiredRetries = 0
        if (this.answeredState && f.request > 0) {
          // An edit the server could only take with our state (an earlier one was refused whole): the
          // state went out after this cycle's request, so ask again; this cycle answers after it.
          this.answeredState = false
          await this.sendSyncNow(f.request)
          return
        }
        const failure = this.uploadFailure !== null && this.uploadFailure.request <= f.request ? this.uploadFailure : null
        if (failure !== null) this.uploadFailure = null
        this.setStatus(failure === null ? 'synced' : 'error')
        const answered = this.waiters.filter(w => w.request <= f.request)
        this.waiters = this.waiters.filter(w => w.request > f.request)
        for (const w of answered) {
          if (failure === null) w.resolve()
          else w.reject(new Error(`attachment upload failed: ${failure.error.message}; the notes pointing at it wait, the rest went out`))
        }
        return
      }
      // Frames only a device sends; the server never sends them, so there is nothing to do.
      case DeviceMessage.hello: case DeviceMessage.syncNow: case DeviceMessage.push: case DeviceMessage.command: return
      default: unexpectedCase(f)
    }
  }

  close (): void {
    this.stopPeriodic()
    this.disconnect()
  }
}
