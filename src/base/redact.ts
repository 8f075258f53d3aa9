/**
 * One redaction pass for everything a run writes or prints. Three layers:
 * - structured: any field whose name says it holds a secret (keys, tokens,
 *   passwords, SAS tokens, connection strings) is replaced, and so are the userinfo
 *   and query of any URL, before the job is copied into run.json. OME's own examples
 *   put credentials in `outputLocation.parameters`, so a verbatim copy would leak them;
 * - known values: every secret infermark reads (API key, storage credentials) is
 *   registered, and `scrubText` removes it from any text, whatever surrounds it;
 * - patterns: secrets infermark never read but a message may quote (a bearer
 *   header, a SAS signature, an account key in a connection string, a GitHub token).
 */

export const REDACTED = '[redacted]';

// `token` only as a whole word part: `github_token`, `tokens` are secrets; `max_tokens`, `tokenizer` are not.
const SECRET_FIELD =
  /(secret|(^|[_-])token$|^tokens$|password|passwd|passphrase|private[_-]?key|api[_-]?key|access[_-]?key|account[_-]?key|connection[_-]?string|sas|credential|authorization|^key$)/i;

/** Whether a field of this name holds a secret (`api_key`, `azure_sas_token`; not `max_tokens`). */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

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
const STORAGE_SCHEMES = new Set(['s3:', 'az:', 'gs:', 'oci:', 'github:', 'pvc:', 'file:']);

export function redactUrl(text: string): string {
  if (!URL_LIKE.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  // In a storage URI `bucket@region` is a bucket and a region, not a user.
  const userinfo = !STORAGE_SCHEMES.has(url.protocol);
  if (!(userinfo && (url.username || url.password)) && !url.search) return text;
  if (userinfo && url.username) url.username = REDACTED;
  if (userinfo && url.password) url.password = '';
  for (const name of [...new Set(url.searchParams.keys())]) url.searchParams.set(name, REDACTED);
  return url.toString();
}

const knownSecrets = new Set<string>();

/** Registers a secret value read from parameters, a file or the environment; returns it. */
export function registerSecret(value: string): string {
  // Very short values would redact ordinary words; no real credential is that short.
  if (value.length < 6) return value;
  knownSecrets.add(value);
  // Inside a JSON document a PEM key's newlines are escaped: that spelling is registered too.
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) knownSecrets.add(escaped);
  for (const line of value.split('\n')) if (line.trim().length >= 24) knownSecrets.add(line.trim());
  return value;
}

/** Registers the userinfo and every query value of a URL (an endpoint's `?code=`, `user:pass@`). */
export function registerUrlSecrets(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return;
  }
  if (url.password) registerSecret(decodeURIComponent(url.password));
  if (url.username && !url.password) registerSecret(decodeURIComponent(url.username));
  // A query value is a secret when its name says so or it is long enough to be a key (`?code=<function key>`);
  // `?format=prometheus` is not, and registering it would blank the word everywhere.
  for (const [name, value] of url.searchParams) {
    if (isSecretField(name) || value.length >= 16) registerSecret(value);
  }
}

/** Cheap test for text a pattern of SECRET_PATTERNS might match (the records writer's prefilter). */
export function mayHoldSecretPattern(text: string): boolean {
  return /bearer|sig=|signature=|token=|key=|sk-|gh[pousr]_|github_pat_|accountkey|sharedaccess|password|pwd=|@/i.test(
    text,
  );
}

const SECRET_PATTERNS: [RegExp, string][] = [
  [/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${REDACTED}`],
  [
    /((?:^|[?&;\s"'])(?:sig|signature|token|access_token|api[-_]?key|key|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&;\s"']+/gi,
    `$1${REDACTED}`,
  ],
  [/((?:AccountKey|SharedAccessSignature|SharedAccessKey|Password|pwd)=)[^;"'\s]+/gi, `$1${REDACTED}`],
  [/\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}\b/g, REDACTED],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}\b/g, REDACTED],
  [/\bsk-[A-Za-z0-9_-]{16,}\b/g, REDACTED],
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, `$1${REDACTED}@`],
];

/** `text` with every registered secret and every secret-shaped token replaced by `[redacted]`. */
export function scrubText(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Whether any registered secret occurs in `text` (cheap check for hot writers). */
export function holdsKnownSecret(text: string): boolean {
  for (const secret of knownSecrets) if (text.includes(secret)) return true;
  return false;
}
