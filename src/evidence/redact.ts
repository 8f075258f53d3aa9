/**
 * Redaction of what a run writes: any field whose name says it holds a secret
 * (keys, tokens, passwords, SAS tokens, connection strings) is replaced, and so are
 * the userinfo and query of any URL, before the job is copied into run.json. The seed's own examples put credentials in
 * `outputLocation.parameters`, so a verbatim copy would leak them.
 */

export const REDACTED = '[redacted]';

const SECRET_FIELD =
  /(secret|token|password|passwd|api[_-]?key|access[_-]?key|account[_-]?key|connection[_-]?string|sas|credential|authorization|^key$)/i;

/** A deep copy of `value` with every secret-named string field replaced by `[redacted]`. */
export function redactSecrets<T>(value: T): T {
  return redact(value) as T;
}

function redact(value: unknown, key = ''): unknown {
  // Array elements keep their field's name: a list under `tokens` is a list of secrets.
  if (Array.isArray(value)) return value.map((item) => redact(item, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  if (typeof value !== 'string') return value;
  if (SECRET_FIELD.test(key)) return REDACTED;
  return redactUrl(value);
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * URLs carry secrets in their userinfo and query (SAS tokens `?sv=…&sig=…`, `?token=`):
 * both are replaced, whatever the field is called. Other strings pass unchanged.
 */
export function redactUrl(text: string): string {
  if (!URL_LIKE.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (!url.username && !url.password && !url.search) return text;
  if (url.username) url.username = REDACTED;
  if (url.password) url.password = '';
  for (const name of [...new Set(url.searchParams.keys())]) url.searchParams.set(name, REDACTED);
  return url.toString();
}
