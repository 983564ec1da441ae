// n/last pagination shared by tags/list and _catalog. `n` is capped so a huge
// value never sizes an allocation (CVE-2023-2253); the Link header tells the
// client how to continue, which the spec allows when fewer than n come back.
import type { Reply, Req } from '../../main/http/types.js';
import { oci } from './errors.js';

/** Most entries one page returns, and the page size when `n` is absent. */
export const MAX_PAGE = 1000;

export interface Page {
  /** entries to return (0 ≤ n ≤ MAX_PAGE) */
  n: number;
  /** return only entries after this one */
  last?: string;
}

export function parsePage(req: Req): Page {
  const rawN = req.query.get('n');
  let n = MAX_PAGE;
  if (rawN !== null && rawN !== '') {
    if (!/^\d+$/.test(rawN)) throw oci('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: rawN.slice(0, 50) });
    // Digits only, so a long string is simply a huge number: cap without parsing it whole.
    n = rawN.length > 9 ? MAX_PAGE : Math.min(Number(rawN), MAX_PAGE);
  }
  const last = req.query.get('last');
  return last === null || last === '' ? { n } : { n, last };
}

/** Sets `Link: <path?n=N&last=X>; rel="next"` (extra query pairs kept, e.g. a filter). */
export function setNextLink(reply: Reply, path: string, n: number, last: string, extra: Record<string, string> = {}): void {
  const q = new URLSearchParams({ ...extra, n: String(n), last });
  reply.header('Link', `<${path}?${q.toString()}>; rel="next"`);
}
