// Synchronous PostgreSQL for the ports that answer in the same turn (security, sign-in, device holdings,
// a row's owner, blob ownership): a worker thread holds one connection and runs each query while the
// caller waits on a shared flag (Atomics.wait). A round trip on this machine costs a fraction of a
// millisecond; those ports are asked rarely or through caches. Every instance then reads what any
// instance committed, so nothing in them goes stale between instances.
// The worker never takes locks that the asynchronous pool's open transactions hold (it writes only the
// tables of these ports), so the waiting caller cannot block a transaction it would wait for.

import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { durable } from './pg-db.ts'

/** How long one synchronous query may take before it fails (ms). */
const TIMEOUT_MS = 30_000

// Plain JavaScript (the worker runs without our TypeScript loader); `pg` is required by path.
const WORKER = `
const { workerData } = require('node:worker_threads')
const pg = require(workerData.pgPath)
const port = workerData.port
const flag = new Int32Array(workerData.flag)
const parse = (oid, format) => oid === 20 ? v => Number(v) : pg.types.getTypeParser(oid, format)
// A connection lost (PostgreSQL restarted) is opened again at the next query; the query that found it
// lost fails.
let current = null
const connected = () => {
  if (current === null) {
    const c = new pg.Client({ connectionString: workerData.url, types: { getTypeParser: parse } })
    c.on('error', () => { if (current !== null && current.c === c) current = null })
    current = { c, ready: c.connect().catch(e => { current = null; throw e }) }
  }
  const { c, ready } = current
  return ready.then(() => c)
}
// Each answer carries its request's id and counts up the flag (after the message is on the port).
const answer = (id, m) => { port.postMessage({ id, ...m }); Atomics.add(flag, 0, 1); Atomics.notify(flag, 0) }
port.on('message', async req => {
  try {
    if (req.end) { if (current !== null) await current.c.end().catch(() => {}); answer(req.id, { rows: [], rowCount: 0 }); return }
    const client = await connected()
    const params = (req.params || []).map(p => p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p)
    const r = await client.query(req.sql, params)
    answer(req.id, { rows: r.rows, rowCount: r.rowCount ?? 0 })
  } catch (e) {
    // not an SQLSTATE: the connection itself failed
    if (current !== null && !/^[0-9A-Z]{5}$/.test(String(e.code))) { current.c.end().catch(() => {}); current = null }
    answer(req.id, { error: { message: e.message, code: e.code } })
  }
})
`

interface Answer { readonly id: number, readonly rows: unknown[], readonly rowCount: number, readonly error?: { message: string, code?: string } }

export interface SyncResult<R> { readonly rows: R[], readonly rowCount: number }

/** A PostgreSQL error raised by a synchronous query (`code`: the SQLSTATE). */
export class SyncPgError extends Error {
  override name = 'SyncPgError'
  readonly sqlState: string | undefined
  constructor (message: string, sqlState: string | undefined) {
    super(message)
    this.sqlState = sqlState
  }
}

export class SyncPg {
  private readonly worker: Worker
  private readonly port: MessagePort
  private readonly flag: Int32Array
  private depth = 0
  private closed = false
  /** the id of the last request sent */
  private sent = 0

  private readonly timeoutMs: number

  /** `timeoutMs`: how long one query may take before it fails (default TIMEOUT_MS). */
  constructor (url: string, timeoutMs = TIMEOUT_MS) {
    this.timeoutMs = timeoutMs
    const { port1, port2 } = new MessageChannel()
    const shared = new SharedArrayBuffer(4)
    this.flag = new Int32Array(shared)
    this.port = port1
    const pgPath = createRequire(import.meta.url).resolve('pg')
    this.worker = new Worker(WORKER, { eval: true, workerData: { url: durable(url), pgPath, port: port2, flag: shared }, transferList: [port2] })
    this.worker.unref()
    this.port.unref()
  }

  /** Runs one statement and waits for its answer; throws SyncPgError when PostgreSQL refuses it. */
  query<R = Record<string, unknown>> (sql: string, params: readonly unknown[] = []): SyncResult<R> {
    if (this.closed) throw new Error('the synchronous PostgreSQL connection is closed')
    const id = ++this.sent
    this.port.postMessage({ id, sql, params })
    const m = this.answerTo(id)
    if (m.error !== undefined) throw new SyncPgError(m.error.message, m.error.code)
    return m as Answer & SyncResult<R>
  }

  /**
   * Waits for the answer to request `id`. Answers are told apart by id: the answer to a request that was
   * given up (timed out) arrives later and is dropped, never taken for the next request's.
   */
  private answerTo (id: number, timeoutMs = this.timeoutMs): Answer {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      // The flag is read before the port: an answer posted after this read changes it, so the wait below
      // returns at once instead of missing it.
      const seen = Atomics.load(this.flag, 0)
      for (let m = receiveMessageOnPort(this.port)?.message as Answer | undefined; m !== undefined; m = receiveMessageOnPort(this.port)?.message as Answer | undefined) {
        if (m.id === id) return m
      }
      const left = deadline - performance.now()
      if (left <= 0 || Atomics.wait(this.flag, 0, seen, left) === 'timed-out') throw new Error(`PostgreSQL did not answer within ${timeoutMs} ms`)
    }
  }

  /** The first row of a statement, if any. */
  one<R = Record<string, unknown>> (sql: string, params: readonly unknown[] = []): R | undefined {
    return this.query<R>(sql, params).rows[0]
  }

  /** Runs `f` as one transaction (nested: a savepoint), committed when it returns, rolled back when it throws. */
  transaction<T> (f: () => T): T {
    const outer = this.depth === 0
    this.query(outer ? 'BEGIN' : `SAVEPOINT s${this.depth}`)
    this.depth++
    try {
      const r = f()
      this.depth--
      this.query(outer ? 'COMMIT' : `RELEASE SAVEPOINT s${this.depth}`)
      return r
    } catch (e) {
      this.depth--
      this.query(outer ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT s${this.depth}`)
      throw e
    }
  }

  close (): void {
    if (this.closed) return
    const id = ++this.sent
    this.port.postMessage({ id, end: true })
    try { this.answerTo(id, 2000) } catch { /* the worker is terminated below either way */ }
    this.closed = true
    this.port.close()
    void this.worker.terminate()
  }
}
