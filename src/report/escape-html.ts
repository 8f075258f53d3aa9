/**
 * The one HTML escaper of the report and the dashboard. It escapes the five
 * characters that matter in text and in quoted attribute values alike (& < > " '),
 * so one function is safe in both places; `null` and `undefined` become ''.
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
