/**
 * Plugin READMEs are untrusted author input. Markdown is turned into HTML by marked, then
 * DOMPurify removes scripts, event handlers, forms, frames and styles; images are kept only when
 * they are inline `data:` images (no remote fetches that could track the viewer), and links open
 * in a new tab without referrer or opener. The page's CSP (script-src 'self', img-src 'self'
 * data:) is the second line of defence.
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';

const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'IMG') {
    const src = node.getAttribute('src') ?? '';
    if (!src.startsWith('data:image/')) {
      const alt = node.getAttribute('alt') ?? '';
      node.replaceWith(document.createTextNode(alt === '' ? '[remote image blocked]' : `[image: ${alt}]`));
    }
  }
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

export function renderReadme(markdown: string): string {
  const html = marked.parse(markdown, { async: false, gfm: true });
  return purifier.sanitize(html, {
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'],
    FORBID_ATTR: ['style'],
    ALLOW_DATA_ATTR: false,
  });
}
