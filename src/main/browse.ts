// What a format shows in the web UI: a list of its repositories or packages
// and one page per entry, as plain data the UI renders (src/protocols/ui/).
// A format adds its pages by giving its Protocol a `browse`; it knows nothing
// of HTML, and the UI knows nothing of the format's storage.

/** One table cell: text, optionally a link inside the UI (a path under /ui/) or shown as code. */
export type Cell = string | { text: string; href?: string; code?: boolean };

export interface BrowseTable {
  caption: string;
  columns: string[];
  rows: Cell[][];
  /** query parameters of the next page of this table, when there is one */
  next?: Record<string, string>;
}

/** An entry's page. */
export interface BrowseView {
  title: string;
  /** label/value pairs shown first (latest version, digest, media type...) */
  facts: [string, Cell][];
  /** copyable commands for this registry's URL (docker pull, npm install...) */
  commands: { label: string; text: string }[];
  tables: BrowseTable[];
  /** Markdown shown rendered (sanitised by the UI), or plain text shown as is */
  readme?: { markdown: boolean; text: string };
}

export interface BrowseEntry {
  name: string;
  /** a short line beside the name (latest version, description) */
  note?: string;
}

/** A push or publish this process saw. */
export interface Activity {
  name: string;
  /** what changed: a tag, a version, a file */
  what: string;
  /** ms since the epoch */
  at: number;
}

export interface Browse {
  /** shown in navigation, e.g. "Docker" */
  readonly label: string;
  /** what entries are called: "repositories", "packages", "projects" */
  readonly noun: string;
  /**
   * The API path whose access rule a page follows: the listing's (no name;
   * Docker's catalog) or an entry's. The UI admits a caller to the page
   * exactly when the gate would admit them to a read of that path.
   */
  apiPath(name?: string): string;
  /** Entries after `after` in the format's order whose names contain `filter` (case-insensitive), at most `limit`. */
  list(opts: { after?: string; limit: number; filter?: string }): Promise<{ entries: BrowseEntry[]; more: boolean }>;
  /** How many entries there are (the UI caches it). */
  count(): Promise<number>;
  /** An entry's page, or null when there is no such entry. `base` is this registry's URL for the client (link base). */
  view(name: string, query: URLSearchParams, base: string): Promise<BrowseView | null>;
  /** The latest pushes or publishes, newest first. */
  recent(): readonly Activity[];
}

/** The last few activities of one format, newest first (kept in memory by this process). */
export class RecentActivity {
  private readonly items: Activity[] = [];
  constructor(private readonly max = 20) {}

  add(name: string, what: string): void {
    this.items.unshift({ name, what, at: Date.now() });
    if (this.items.length > this.max) this.items.pop();
  }

  list(): readonly Activity[] {
    return this.items;
  }
}

/** A page of the UI for an entry of a format (names keep their '/'; each segment is encoded). */
export function uiHref(format: string, name: string, params?: Record<string, string>): string {
  const path = `/ui/${format}/${name.split('/').map(encodeURIComponent).join('/')}`;
  const q = params ? new URLSearchParams(params).toString() : '';
  return q ? `${path}?${q}` : path;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** A time (ms or an ISO string) as "2026-12-01 11:33 UTC"; '' when absent or unreadable. */
export function formatTime(t: number | string | undefined): string {
  if (t === undefined || t === '') return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The first `limit` names `keep` accepts (in the order given) and whether more follow: reads one past the page, no further. */
export async function firstPage(names: AsyncIterable<string>, limit: number, keep: (name: string) => boolean): Promise<{ entries: BrowseEntry[]; more: boolean }> {
  const found: string[] = [];
  for await (const n of names) {
    if (!keep(n)) continue;
    found.push(n);
    if (found.length > limit) break;
  }
  return { entries: found.slice(0, limit).map((name) => ({ name })), more: found.length > limit };
}
