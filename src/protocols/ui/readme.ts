// Readmes rendered safely: markdown-it with raw HTML off (tags show as
// text), links only to http(s), mailto and same-site paths, and images shown
// as links, since the page's CSP loads images from this registry only (an
// outside image would be a refused request in every visitor's console).
// Headings start below the page's own.
import MarkdownIt from 'markdown-it';
import { trusted, type Html } from './html.js';

const SAFE_LINK = /^(?:https?:|mailto:|#|\/(?!\/)|\.{0,2}\/|[^:]*$)/i;

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
md.validateLink = (url) => SAFE_LINK.test(url.trim());
md.disable('image');
// The page has its own h1 and the readme sits under an h2: its headings start at h3.
md.core.ruler.push('demote_headings', (state) => {
  for (const tok of state.tokens) if (tok.type === 'heading_open' || tok.type === 'heading_close') tok.tag = `h${Math.min(6, Number(tok.tag.slice(1)) + 2)}`;
});
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, opts, _env, self) => self.renderToken(tokens, idx, opts));
md.renderer.rules.link_open = (tokens, idx, opts, env, self) => {
  tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
  return defaultLinkOpen(tokens, idx, opts, env, self);
};

/** Markdown to HTML safe to embed in a page. */
export function renderMarkdown(text: string): Html {
  return trusted(md.render(text));
}
