// Which repositories and package names an OIDC identity may write. Patterns
// are segment-aware globs over '/'-separated names: `*` matches within one
// segment, a `**` segment matches one or more segments (`org/*` = one level
// below org, `org/**` = any depth), and the lone pattern `*` (NORA's default
// ["*"]) matches every name. `{claim}` in a pattern is replaced by that claim
// of the token (GitHub's {repository}, GitLab's {project_path}) so one rule
// can let each CI job write only its own project's namespace.

/** What is wrong with a scope pattern, if anything (checked at start-up). */
export function checkScopePattern(p: string): string | undefined {
  if (p === '') return 'a scope pattern must not be empty';
  for (const seg of p.split('/')) {
    if (seg === '') return `${JSON.stringify(p)} has an empty segment`;
    if (seg.includes('**') && seg !== '**') return `${JSON.stringify(p)}: ** must be a whole segment`;
  }
  return undefined;
}

/** `*` matches any run of characters (including '/'): for `sub` and claim values. */
export function textGlob(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === text;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = text.indexOf(parts[i]!, at);
    if (found < 0 || found + parts[i]!.length > end) return false;
    at = found + parts[i]!.length;
  }
  return true;
}

function segmentsMatch(pat: readonly string[], pi: number, name: readonly string[], ni: number): boolean {
  if (pi === pat.length) return ni === name.length;
  if (pat[pi] === '**') {
    for (let k = ni + 1; k <= name.length; k++) if (segmentsMatch(pat, pi + 1, name, k)) return true;
    return false;
  }
  return ni < name.length && textGlob(pat[pi]!, name[ni]!) && segmentsMatch(pat, pi + 1, name, ni + 1);
}

export function scopeGlob(pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === '**') return true;
  return segmentsMatch(pattern.split('/'), 0, name.split('/'), 0);
}

/**
 * Replaces {claim} placeholders by the token's claim values. A pattern whose
 * claim is absent, not a string, or holds glob or path syntax is dropped: it
 * then grants nothing (a missing claim must never widen a scope).
 */
export function expandScope(patterns: readonly string[], claims: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    let ok = true;
    const expanded = p.replace(/\{([A-Za-z0-9_.-]+)\}/g, (_, name: string) => {
      const v = claims[name];
      if (typeof v !== 'string' || v === '' || v.includes('*') || v.split('/').some((s) => s === '' || s === '.' || s === '..')) ok = false;
      return typeof v === 'string' ? v : '';
    });
    if (ok) out.push(expanded);
  }
  return out;
}

/** An OIDC identity's write scope: the provider's and the rule's lists must both match. */
export class NamespaceScope {
  constructor(
    readonly provider: string,
    private readonly lists: readonly (readonly string[])[],
    /** enforcement "audit": a write outside the scope is allowed, logged and counted */
    readonly audit: boolean,
  ) {}

  allows(name: string): boolean {
    return this.lists.every((list) => list.some((p) => scopeGlob(p, name)));
  }

  /** The scope of a provider list and an optional rule list; undefined when both are unrestricted. */
  static of(provider: string, lists: readonly (readonly string[] | undefined)[], audit: boolean): NamespaceScope | undefined {
    const restricting = lists.filter((l): l is readonly string[] => l !== undefined && !(l.length === 1 && (l[0] === '*' || l[0] === '**')));
    return restricting.length === 0 ? undefined : new NamespaceScope(provider, restricting, audit);
  }
}
