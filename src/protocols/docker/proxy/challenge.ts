// WWW-Authenticate challenges (RFC 9110 §11.6.1): a scheme, then auth-params
// whose values are tokens or quoted strings. Values such as
// scope="repository:a:pull,push" hold commas, so a split on ',' is wrong.

export interface Challenge {
  /** lower-case scheme: "bearer", "basic" */
  scheme: string;
  /** lower-case parameter names */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/** Every challenge in a header value (several may share one header). */
export function parseChallenges(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string | null => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(s);
    if (!m) return null;
    i += m[0].length;
    return m[0];
  };
  const quoted = (): string | null => {
    if (s[i] !== '"') return null;
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i++];
    }
    if (s[i] !== '"') return null; // unterminated
    i++;
    return v;
  };
  for (;;) {
    while (s[i] === ' ' || s[i] === '\t' || s[i] === ',') i++;
    const scheme = token();
    if (!scheme) return out;
    const c: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(c);
    for (;;) {
      skipWs();
      const save = i;
      const name = token();
      skipWs();
      if (!name || s[i] !== '=') {
        i = save; // the next challenge's scheme, or the end
        break;
      }
      i++;
      skipWs();
      const value = s[i] === '"' ? quoted() : token();
      if (value === null) return out; // malformed: keep what parsed
      c.params[name.toLowerCase()] = value;
      skipWs();
      if (s[i] !== ',') break;
      i++;
    }
  }
}
