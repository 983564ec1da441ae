// The UI's only stylesheet and script, served by nora-ts itself under a
// name carrying their hash (cached for a year; a new release is a new name),
// so pages need no inline style or script and the CSP can forbid both.
import { createHash } from 'node:crypto';

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0a58ca;--code:#f3f4f6;--bar:#3b82f6;--bar2:#10b981;--bad:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--accent:#6cb6ff;--code:#161b22;--bar:#60a5fa;--bar2:#34d399;--bad:#ff7b72}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,main:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px 8px}
header{border-bottom:1px solid var(--line);padding:8px 16px}
nav{display:flex;flex-wrap:wrap;gap:12px;align-items:center}
nav .brand{font-weight:700;text-decoration:none}
nav form{display:inline-flex;gap:6px;margin:0}
nav .user{margin-left:auto;display:flex;gap:12px;align-items:center}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.5rem 0 1rem;word-break:break-all}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
caption{text-align:left;font-weight:600;padding:4px 0}
code,pre,.cmd input{font-family:ui-monospace,monospace;font-size:.9em}
code{background:var(--code);padding:1px 4px;border-radius:4px;word-break:break-all}
pre{background:var(--code);padding:8px;overflow:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{color:var(--muted)}dd{margin:0}
.cmd{display:flex;gap:6px;align-items:center;margin:4px 0}
.cmd label{min-width:8em;color:var(--muted)}
.cmd input{flex:1;padding:4px;background:var(--code);color:var(--fg);border:1px solid var(--line)}
input,select,button{font:inherit;padding:4px 8px;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:4px}
button{cursor:pointer}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px}
.card .n{font-size:1.6rem;font-weight:700}
.muted{color:var(--muted)}.error{color:var(--bad)}
.chart rect.r{fill:var(--bar)}.chart rect.b{fill:var(--bar2)}.chart line{stroke:var(--line)}
.chart{width:100%;max-width:600px;height:auto}
.secret{border:2px solid var(--accent);padding:12px;border-radius:6px}
form.stack{display:grid;gap:8px;max-width:420px}
.readme{border-top:1px solid var(--line);margin-top:1.5rem}
.pager{margin:8px 0}
`;

// Copy buttons: copies the named input's value; the input stays selectable
// (and readable) without script.
const JS = `
document.addEventListener('click', function (ev) {
  var b = ev.target.closest && ev.target.closest('button[data-copy]');
  if (!b) return;
  var input = document.getElementById(b.getAttribute('data-copy'));
  if (!input) return;
  input.select();
  var done = function () { b.textContent = 'Copied'; setTimeout(function () { b.textContent = 'Copy'; }, 1500); };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(input.value).then(done, function () { if (document.execCommand('copy')) done(); });
  } else if (document.execCommand('copy')) done();
});
`;

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0a58ca"/><path d="M4 12V4l8 8V4" stroke="#fff" stroke-width="2" fill="none"/></svg>`;

export interface Asset {
  path: string;
  type: string;
  body: Buffer;
  etag: string;
}

function asset(name: string, ext: string, type: string, text: string): Asset {
  const body = Buffer.from(text.trim() + '\n');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { path: `/ui/assets/${name}.${hash}.${ext}`, type, body, etag: `"${hash}"` };
}

export const STYLESHEET = asset('ui', 'css', 'text/css; charset=utf-8', CSS);
export const SCRIPT = asset('ui', 'js', 'text/javascript; charset=utf-8', JS);
/** Named in every page, so browsers do not ask for /favicon.ico. */
export const ICON = asset('icon', 'svg', 'image/svg+xml', ICON_SVG);
export const ASSETS = new Map([STYLESHEET, SCRIPT, ICON].map((a) => [a.path, a]));
