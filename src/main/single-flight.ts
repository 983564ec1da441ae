// Concurrent calls with one key share one run (document reads, manifest
// fetches, token requests): a burst of cold pulls makes one upstream request,
// not one each. The entry leaves when the run settles: a failure is never cached.
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.running.get(key);
    if (p === undefined) {
      p = fn();
      const done = () => {
        if (this.running.get(key) === p) this.running.delete(key);
      };
      p.then(done, done);
      this.running.set(key, p);
    }
    return p;
  }

  /** Later calls start a new run (the one in progress read what a write just replaced). */
  forget(key: string): void {
    this.running.delete(key);
  }
}
