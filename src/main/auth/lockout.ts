// Failed-login lockout per client IP, as NORA: from the 5th consecutive failure
// the IP is refused for 2^(failures-5) seconds (1, 2, 4 ... capped at 900).
// Refused requests add no failures; a success clears the record.
// Replicas share the records through SharedFailures (Redis counters, or the
// object store): a client spreading its guesses over replicas is counted once.
// The synchronous checks read this process's copy; a verification refreshes
// it from the shared record first (every guess is a verification, since only
// successes are cached), and every failure is added there too.
const THRESHOLD = 5;
const MAX_LOCK_SECS = 900;
/** Records whose last failure is older than this are forgotten. */
export const FORGET_MS = 30 * 60 * 1000;
/** Bound on tracked IPs so a spray of addresses cannot grow memory without limit. */
const MAX_TRACKED = 100_000;

export interface Rec {
  failures: number;
  last: number;
}

/** Failure records every replica sees. */
export interface SharedFailures {
  /** Adds one failure at `now`; returns the record after it. */
  add(ip: string, now: number): Promise<Rec>;
  get(ip: string): Promise<Rec | null>;
  clear(ip: string): Promise<void>;
}

function lockMs(failures: number): number {
  if (failures < THRESHOLD) return 0;
  return Math.min(2 ** Math.min(failures - THRESHOLD, 20), MAX_LOCK_SECS) * 1000;
}

export class Lockout {
  private readonly recs = new Map<string, Rec>();
  /** shared adds in flight, per IP */
  private readonly adding = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly now: () => number = Date.now,
    readonly shared: SharedFailures | null = null,
    private readonly onError: (e: Error) => void = () => {},
  ) {
    this.timer = setInterval(() => this.sweep(), 60_000);
    this.timer.unref();
  }

  /** True when any IP has failures on record. */
  get active(): boolean {
    return this.recs.size !== 0;
  }

  /** Seconds the IP must still wait (0 = not locked). */
  retryAfter(ip: string): number {
    if (this.recs.size === 0) return 0;
    const r = this.recs.get(ip);
    if (r === undefined || r.failures < THRESHOLD) return 0;
    const left = r.last + lockMs(r.failures) - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Records a failure; returns the lockout it starts in seconds (0 if none). */
  failure(ip: string): { failures: number; lockedFor: number } {
    const r = this.recs.get(ip);
    const failures = (r?.failures ?? 0) + 1;
    const last = this.now();
    this.remember(ip, { failures, last });
    if (this.shared !== null) {
      const p = this.shared.add(ip, last).then((rec) => this.merge(ip, rec), this.onError);
      this.adding.set(ip, p);
      void p.finally(() => this.adding.get(ip) === p && this.adding.delete(ip));
    }
    return { failures, lockedFor: lockMs(failures) / 1000 };
  }

  /** Waits until the IP's last failure is in the shared record (so its next guess, on any replica, sees it). */
  async recorded(ip: string): Promise<void> {
    await this.adding.get(ip);
  }

  success(ip: string): void {
    if (this.recs.size !== 0 && this.recs.delete(ip)) this.shared?.clear(ip).catch(this.onError);
  }

  /** Takes in what other replicas recorded for the IP (before verifying one of its credentials). */
  async refresh(ip: string): Promise<void> {
    if (this.shared === null) return;
    let rec: Rec | null;
    try {
      rec = await this.shared.get(ip);
    } catch (e) {
      // Unreachable shared records: this replica still counts on its own.
      this.onError(e as Error);
      return;
    }
    if (rec === null) this.recs.delete(ip);
    else this.merge(ip, rec);
  }

  private merge(ip: string, rec: Rec): void {
    const mine = this.recs.get(ip);
    if (mine === undefined || rec.failures > mine.failures || (rec.failures === mine.failures && rec.last > mine.last)) this.remember(ip, rec);
  }

  private remember(ip: string, rec: Rec): void {
    // delete + set keeps the map ordered by last failure, oldest first
    this.recs.delete(ip);
    this.recs.set(ip, rec);
    if (this.recs.size > MAX_TRACKED) this.recs.delete(this.recs.keys().next().value!);
  }

  private sweep(): void {
    const cutoff = this.now() - FORGET_MS;
    for (const [ip, r] of this.recs) {
      if (r.last >= cutoff) break;
      this.recs.delete(ip);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
