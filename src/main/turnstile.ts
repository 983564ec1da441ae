// Lets waiters continue a slice at a time, one event-loop turn per slice. When
// hundreds of requests wait on one event (the first verification of a
// credential they all carry), resolving them together would run every
// request's remaining work in one turn: 500 × 50 µs holds the loop for 25 ms,
// and every other client waits. A slice per turn keeps each turn short.
export class Turnstile {
  private readonly queue: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly slice: number) {}

  /** Resolves in a later turn of the event loop, at most `slice` per turn. */
  pass(): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.release);
      }
    });
  }

  private readonly release = (): void => {
    const batch = this.queue.splice(0, this.slice);
    for (const go of batch) go();
    if (this.queue.length > 0) setImmediate(this.release);
    else this.scheduled = false;
  };
}
