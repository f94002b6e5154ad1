// When a record's log is merged into one entry: a merge costs the whole state's encoding, which grows
// with the record's history, so a record in use is merged once it has been quiet for a while (the merge
// itself runs through the room's pipeline: room.ts).

export interface QuietCompactionOptions {
  /** how long the record must go without a commit */
  readonly quietMs: number
  /** whether the log is still past its bound (false: nothing to do any more) */
  readonly due: () => boolean
  /** whether the record's pipeline has work queued or running (then it is not quiet) */
  readonly busy: () => boolean
  /** merges now; a failure is the room's to handle */
  readonly compact: () => Promise<void>
}

/** One timer per record, armed by a commit that leaves the log past its bound and pushed back by every later one. */
export class QuietCompaction {
  private lastCommitAt = 0
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly o: QuietCompactionOptions) {}

  /** A commit left the log past its bound: merge once the record has been quiet for `quietMs` from now. */
  committed (): void {
    this.lastCommitAt = performance.now()
    if (this.timer !== undefined || this.stopped) return
    this.arm(this.o.quietMs)
  }

  private arm (ms: number): void {
    this.timer = setTimeout(() => this.check(), ms)
    this.timer.unref()
  }

  private check (): void {
    this.timer = undefined
    if (this.stopped || !this.o.due()) return
    const wait = this.o.quietMs - (performance.now() - this.lastCommitAt)
    if (wait > 0 || this.o.busy()) { this.arm(Math.max(wait, 10)); return }
    // (A storage failure fails the room, which closes its members: nothing more to do with it here.)
    this.o.compact().catch(() => {})
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }
}
