// The device's sync engine: one /device socket, sync cycles on demand and periodically, attachment
// uploads before the edits that point at them, local edits sent in order (commands as one frame),
// and the server's frames applied to the replica.

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { Receipt } from '../projection/receipts.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, holdingsDigest, readDeviceFrame, type DeviceFrame } from '../server/device-protocol.ts'
import { CloseCode, SyncStep } from '../server/protocol.ts'
import { uploadBlob, UploadRefused, type Http } from './attachments.ts'
import { currentToken, type TokenSource } from './token.ts'
import type { Replica } from './replica.ts'
import type { DeviceStatus, Emit } from './events.ts'

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
  /** local edits wait for the next cycle instead of going out live (set while attachment content is
   * not uploaded yet, and from connecting until the pending edits went out) */
  private deferred = true
  private uploading: Promise<void> | null = null
  /** refresh() calls waiting for a record's server state */
  private readonly refreshes = new Map<string, Waiter[]>()
  /** the server asked for a record's state during this cycle: its answer goes after the cycle's
   * syncNow, so one more round makes sure it was taken before sync() resolves */
  private answeredState = false

  constructor (opts: ConnectionOptions, replica: Replica, emit: Emit) {
    this.opts = opts
    this.replica = replica
    this.emit = emit
    replica.sendLive = f => { if (!this.deferred) this.send(f) }
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

  /** Runs a sync cycle now: pushes local edits, receives what changed; resolves when it is done. */
  sync (): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = ++this.requests
      this.waiters.push({ request, resolve, reject })
      // A socket still opening sends the newest request once it is open.
      if (this.socket === null) { if (!this.connecting) void this.connect() } else if (this.socket.readyState === 1) void this.flushOutgoing(request)
    })
  }

  /** Local edits wait for the next cycle (attachment content they point at is not uploaded yet). */
  hold (): void {
    this.deferred = true
  }

  /** Online with held edits: sync now rather than at the next periodic sync. */
  nudge (): void {
    if (this.connected && this.deferred) void this.sync().catch(() => {})
  }

  /** Syncs every `ms` milliseconds (and now). */
  startPeriodic (ms = this.opts.syncIntervalMs ?? 60_000): void {
    this.stopPeriodic()
    this.timer = setInterval(() => { this.sync().catch(() => {}) }, ms)
    this.sync().catch(() => {})
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

  private async connect (): Promise<void> {
    const generation = ++this.generation
    this.connecting = true
    this.setStatus('syncing')
    let token: string
    try {
      token = await currentToken(this.opts.token)
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
        void this.connect()
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

  /** Uploads attachment content not on the server yet (one run at a time). */
  private uploadBlobs (): Promise<void> {
    const { store } = this.replica
    this.uploading ??= (async () => {
      try {
        for (const hash of await store.pendingBlobs()) {
          const data = await store.blob(hash)
          if (data === undefined) continue
          try {
            const { from } = await uploadBlob(this.http, hash, data)
            this.emit('uploaded', [{ hash, from, size: data.length }])
          } catch (e) {
            if (!(e instanceof UploadRefused)) throw e
            // Refused for good: the notes that point at it are dropped at sync, with receipts.
            console.warn(e.message)
          }
          await store.blobUploaded(hash)
        }
      } finally {
        this.uploading = null
      }
    })()
    return this.uploading
  }

  /** Uploads attachments, then sends the held local edits in order, then asks for a cycle. */
  private async flushOutgoing (request: number): Promise<void> {
    try {
      await this.uploadBlobs()
    } catch (e) {
      // Edits pointing at content the server lacks would be dropped: they wait for the next sync.
      this.setStatus('error')
      for (const w of this.waiters.filter(x => x.request <= request)) w.reject(new Error(`attachment upload failed: ${(e as Error).message}`))
      this.waiters = this.waiters.filter(x => x.request > request)
      return
    }
    await this.replica.queue(async () => {
      if (this.deferred && (await this.replica.store.pendingBlobs()).length === 0) {
        await this.sendPending()
        this.deferred = false
      }
      await this.sendSyncNow(request)
    })
  }

  private async sendPending (): Promise<void> {
    const pending = await this.replica.store.pending()
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
      case DeviceMessage.ack: await r.acknowledge(f.id); return
      case DeviceMessage.receipts: await r.addReceipts(JSON.parse(f.json) as Receipt[]); return
      case DeviceMessage.evict: await r.evict(f.record); this.refreshed(f.record); return
      case DeviceMessage.scope: for (const gone of await r.keepOnly(new Set(JSON.parse(f.json) as string[]))) this.refreshed(gone); return
      case DeviceMessage.progress: this.emit('progress', [{ done: f.done, total: f.total, bytes: f.bytes }]); return
      case DeviceMessage.done: {
        await r.finishCycle(f.cursor, f.receiptSeq)
        this.expiredRetries = 0
        if (this.answeredState && f.request > 0) {
          // An edit the server could only take with our state (an earlier one was refused whole): the
          // state went out after this cycle's request, so ask again; this cycle answers after it.
          this.answeredState = false
          await this.sendSyncNow(f.request)
          return
        }
        this.setStatus('synced')
        const answered = this.waiters.filter(w => w.request <= f.request)
        this.waiters = this.waiters.filter(w => w.request > f.request)
        for (const w of answered) w.resolve()
        return
      }
      default:
    }
  }

  close (): void {
    this.stopPeriodic()
    this.disconnect()
  }
}
