/**
 * Markdown text that stays text: every value a job, a server or the warehouse
 * supplied is escaped (Markdown renderers pass raw HTML through), so no value can
 * open a link, close a code span or fence, or break a table.
 */

/** Plain text for Markdown: no HTML, no link brackets, one line. */
export function mdText(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('[', '\\[')
    .replaceAll(']', '\\]')
    .replace(/\r?\n|\r/g, ' ');
}

/** Inline code whose delimiters are longer than any run of backticks inside (CommonMark). */
export function codeSpan(value: unknown): string {
  const text = String(value).replace(/\r?\n|\r/g, ' ');
  const fence = '`'.repeat(longestBacktickRun(text) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced code block no line of `code` can close early. */
export function codeBlock(language: string, code: string): string[] {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(code) + 1));
  return [`${fence}${language}`, code, fence];
}

function longestBacktickRun(text: string): number {
  return Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
}

export const mdCell = (v: unknown): string => {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  return mdText(v).replaceAll('|', '\\|');
};

export function mdTable(headers: string[], rows: unknown[][]): string {
  return [
    `| ${headers.map(mdCell).join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

/**
 * A link whose text is escaped and whose destination cannot end early: spaces,
 * parentheses, angle brackets and control characters percent-encoded; anything
 * but http(s) and file URLs (and same-origin paths) is shown as text instead.
 */
export function mdLink(text: string, href: string): string {
  if (!/^(https?:|file:|\/)/i.test(href)) return mdText(text);
  const safe = href.replace(/[\s()<>\\\p{Cc}]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return `[${mdText(text)}](${safe})`;
}
