/**
 * Redaction of what a run writes: any field whose name says it holds a secret
 * (keys, tokens, passwords, SAS tokens, connection strings) is replaced before
 * the job is copied into run.json. The seed's own examples put credentials in
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
  if (Array.isArray(value)) return value.map((item) => redact(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  if (typeof value === 'string' && SECRET_FIELD.test(key)) return REDACTED;
  return value;
}
