// Client sockets for bench/malformed: a pool slot that reopens when the server closes it, and a probe
// that asks for sync step 2 on a healthy socket to learn that the server has worked through its input.

import WebSocket from 'ws'

const OPEN_TIMEOUT_MS = 30_000

/** Opens a socket that reads (and drops) everything the server sends; rejects if the upgrade fails. */
export const openSocket = (url: string, onMessage: (b: Buffer) => void = () => {}): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const t = setTimeout(() => { ws.terminate(); reject(new Error(`no open within ${OPEN_TIMEOUT_MS} ms`)) }, OPEN_TIMEOUT_MS)
    ws.on('message', onMessage)
    ws.once('open', () => { clearTimeout(t); resolve(ws) })
    ws.once('error', e => { clearTimeout(t); reject(e) })
  })

/** One socket of the sending pool: reopened on demand after the server closed it. */
export class Slot {
  private ws: WebSocket | null = null
  private opening: Promise<WebSocket> | null = null
  opens = 0
  constructor (private readonly url: string, private readonly closes: Map<number, number>) {}

  /** An open socket: the current one, or a new one once the last was closed. */
  ready (): Promise<WebSocket> {
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws)
    if (this.opening !== null) return this.opening
    this.opening = this.open().finally(() => { this.opening = null })
    return this.opening
  }

  private async open (): Promise<WebSocket> {
    for (let attempt = 1; ; attempt++) {
      try {
        const ws = await openSocket(this.url)
        this.opens++
        ws.once('close', code => this.closes.set(code, (this.closes.get(code) ?? 0) + 1))
        ws.on('error', () => {}) // a reset after the server's close; 'close' follows
        this.ws = ws
        return ws
      } catch (e) {
        if (attempt >= 20) throw new Error(`could not reopen a pool socket: ${(e as Error).message}`)
        await new Promise(r => setTimeout(r, 10 * attempt))
      }
    }
  }

  close (): void { this.ws?.terminate() }
}

/** A y-websocket sync step 1 with an empty state vector: the server answers with all it has (step 2). */
const STEP1_EMPTY = Uint8Array.of(0, 0, 1, 0)

/** A healthy socket that asks for step 2 and waits for it: every frame the server read before is done. */
export class Probe {
  private waiter: ((payload: Buffer) => void) | null = null
  private constructor (private readonly ws: WebSocket) {
    ws.on('message', (b: Buffer) => {
      if (b[0] === 0 && b[1] === 1 && this.waiter !== null) { const w = this.waiter; this.waiter = null; w(b) }
    })
  }

  static async open (url: string): Promise<Probe> {
    return new Probe(await openSocket(url))
  }

  /** Resolves with the step 2 frame; rejects if the server does not answer within `ms`. */
  ask (ms = 60_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) { reject(new Error('the probe socket was closed by the server')); return }
      const t = setTimeout(() => { this.waiter = null; reject(new Error(`server did not answer sync step 1 within ${ms} ms`)) }, ms)
      this.waiter = b => { clearTimeout(t); resolve(b) }
      this.ws.send(STEP1_EMPTY)
    })
  }

  send (frame: Uint8Array): void { this.ws.send(frame) }
  close (): void { this.ws.terminate() }
}
