// Figures the dashboard shows that would cost a scan (entries per format,
// bytes stored): computed at most once per TTL, concurrent asks sharing one
// computation, so a busy dashboard does not walk storage per request.
const TTL_MS = 30_000;

export class Cached<T> {
  private value: { v: T; at: number } | null = null;
  private loading: Promise<T> | null = null;

  constructor(private readonly load: () => Promise<T>, private readonly ttlMs = TTL_MS) {}

  get(): Promise<T> {
    if (this.value && Date.now() - this.value.at < this.ttlMs) return Promise.resolve(this.value.v);
    this.loading ??= this.load().then(
      (v) => {
        this.value = { v, at: Date.now() };
        this.loading = null;
        return v;
      },
      (e) => {
        this.loading = null;
        throw e;
      },
    );
    return this.loading;
  }
}
