// Lets work through a slice at a time, one event-loop turn per slice. When
// hundreds of requests arrive at once (a CI fleet starting, a cold-auth storm)
// or wait on one event (the first verification of a credential they all
// carry), running them all in the same turn holds the loop for tens of
// milliseconds (500 × 50 µs = 25 ms) and every other client waits. With a
// slice per turn, timers and I/O get their turn between slices.
export class Turnstile {
  private queue: (() => void)[] = [];
  private head = 0;
  private enteredThisTurn = 0;
  private scheduled = false;

  constructor(private readonly slice: number) {}

  /** Runs fn now if this turn still has room and nobody waits; otherwise in a later turn, in order. */
  enter(fn: () => void): void {
    this.schedule();
    if (this.enteredThisTurn < this.slice && this.head === this.queue.length) {
      this.enteredThisTurn++;
      fn();
    } else {
      this.queue.push(fn);
    }
  }

  /** Resolves when enter() would run. */
  pass(): Promise<void> {
    return new Promise((resolve) => this.enter(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.nextTurn);
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false;
    this.enteredThisTurn = 0;
    while (this.enteredThisTurn < this.slice && this.head < this.queue.length) {
      this.enteredThisTurn++;
      this.queue[this.head++]!();
    }
    if (this.head < this.queue.length) {
      this.schedule();
    } else {
      this.queue = [];
      this.head = 0;
    }
  };
}
