/**
 * The storage-URI grammar of a BenchmarkJob's `outputLocation.storageUri`, exactly as
 * OME's documentation gives it (`../shared/seeds/benchmarkjob.md`, "Storage URI
 * Formats"). Parsing returns a typed location or an error in words; nothing here
 * touches the network or reads credentials.
 *
 *   oci://n/{namespace}/b/{bucket}/o/{path}
 *   s3://{bucket}[@{region}]/{path}
 *   az://{account}/{container}/{path}      az://{account}.blob.core.windows.net/{container}/{path}
 *   gs://{bucket}/{path}
 *   github://{owner}/{repo}[@{tag}]         (tag: the latest release when absent)
 *   pvc://[{namespace}:]{pvc-name}/{path}
 *   file:///abs/path, /abs/path, ./rel/path (a local folder)
 *
 * A near miss (`s3:/bucket/x`, `S3://bucket`, `gs:bucket`, `data:x/y`) is refused with the
 * URI that was probably meant: read as a plain path it would be a local folder named `s3:`,
 * and the results would silently stay on this machine. Bucket and container names follow
 * each service's own rules, so a name the service would refuse fails before a run, not after.
 */
import { clip } from './job-limits.js';

export type StorageLocation =
  | { scheme: 'file'; path: string }
  | { scheme: 'pvc'; namespace: string | null; claim: string; path: string }
  | { scheme: 's3'; bucket: string; region: string | null; prefix: string }
  | { scheme: 'az'; account: string; container: string; prefix: string }
  | { scheme: 'gs'; bucket: string; prefix: string }
  | { scheme: 'oci'; namespace: string; bucket: string; prefix: string }
  | { scheme: 'github'; owner: string; repo: string; tag: string | null };

export type StorageScheme = StorageLocation['scheme'];

export type ParsedStorageUri = { ok: true; location: StorageLocation } | { ok: false; message: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is;
// `word:` at the start of a path, before any `/`: what a scheme looks like without its `//`.
const SCHEME_LIKE = /^([a-z][a-z0-9+.-]*):(.*)$/is;
const KNOWN_SCHEMES = ['oci', 's3', 'az', 'gs', 'github', 'pvc', 'file'];
// DNS-label-ish names; the services are stricter, but refusing here what they would accept is worse.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const AZURE_HOST = /^([a-z0-9]+)\.blob\.core\.windows\.net$/i;

/** Parses a storage URI; a plain path (no `scheme://`) is a local folder. */
export function parseStorageUri(uri: string): ParsedStorageUri {
  const text = uri.trim();
  if (text === '') return fail('expected a storage URI or a local path');
  if (/[\p{Cc}\p{Cf}\p{Cs}]/u.test(text)) {
    return fail(
      'control, invisible and broken characters (newline, NUL, U+200B, U+202E, a lone surrogate) are not allowed',
    );
  }
  const match = SCHEME.exec(text);
  if (!match) return parsePlainPath(text);
  const written = match[1] as string;
  const scheme = written.toLowerCase();
  const rest = match[2] as string;
  if (written !== scheme) {
    return fail(`the scheme is written in lowercase: did you mean "${clip(`${scheme}://${rest}`, 200)}"?`);
  }
  if (rest.startsWith('/') && scheme !== 'file' && KNOWN_SCHEMES.includes(scheme)) {
    return fail(
      `${EXPECTED[scheme] ?? 'expected scheme://name/path'}: did you mean "${suggest(scheme, rest)}"?`,
    );
  }
  if (/[?#]/.test(rest)) {
    return fail(
      'credentials and options go in outputLocation.parameters, not in the URI (no ?query or #fragment)',
    );
  }
  switch (scheme) {
    case 'file':
      return rest.startsWith('/')
        ? ok({ scheme: 'file', path: rest })
        : fail('expected file:///absolute/path');
    case 'pvc':
      return parsePvc(rest);
    case 's3':
      return parseS3(rest);
    case 'az':
      return parseAzure(rest);
    case 'gs':
      return parseGcs(rest);
    case 'oci':
      return parseOci(rest);
    case 'github':
      return parseGithub(rest);
    default:
      return fail(
        `unknown storage scheme "${clip(scheme, 20)}://" (expected one of ${KNOWN_SCHEMES.join(', ')})`,
      );
  }
}

const EXPECTED: Record<string, string> = {
  oci: 'expected oci://n/{namespace}/b/{bucket}/o/{path}',
  s3: 'expected s3://bucket[@region]/path with a bucket name',
  az: 'expected az://account/container/path',
  gs: 'expected gs://bucket/path with a bucket name',
  github: 'expected github://owner/repo[@tag]',
  pvc: 'expected pvc://[namespace:]claim/path with a claim name',
  file: 'expected file:///absolute/path or a plain path',
};

/**
 * A path without `scheme://`: a local folder, unless it starts like a URI (`s3:/bucket`,
 * `gs:bucket`, `foo:bar/x`), which would be read as a folder named `s3:` in the working
 * directory. `./foo:bar` says plainly that a local folder is meant.
 */
function parsePlainPath(text: string): ParsedStorageUri {
  const near = SCHEME_LIKE.exec(text);
  // A Windows drive (`C:\runs`, `C:/runs`) is a path.
  if (!near || /^[a-z]:[\\/]/i.test(text)) {
    // `x/s3://b` is no folder anyone means: a URI with something before it.
    if (text.includes('://'))
      return fail('expected a storage URI at the start (scheme://...) or a local path');
    return { ok: true, location: { scheme: 'file', path: text } };
  }
  const scheme = (near[1] as string).toLowerCase();
  const rest = near[2] as string;
  if (KNOWN_SCHEMES.includes(scheme)) {
    return fail(
      `not a storage URI (a scheme is followed by "://"): did you mean "${suggest(scheme, rest)}"?`,
    );
  }
  return fail(
    `"${clip(`${near[1] as string}:`, 20)}" looks like a URI scheme, but the schemes are ${KNOWN_SCHEMES.join(', ')}: write ./${clip(text, 200)} for a local folder`,
  );
}

/** The URI a near miss probably meant: `s3:/b/x`, `S3:b/x`, `s3:///b/x` → `s3://b/x`; `file:/x` → `file:///x`. */
function suggest(scheme: string, rest: string): string {
  const body = rest.replace(/^\/+/, '');
  return clip(scheme === 'file' ? `file:///${body}` : `${scheme}://${body}`, 200);
}

/** The URI a location was parsed from, in canonical form (used in logs and manifests). */
export function formatStorageUri(location: StorageLocation): string {
  switch (location.scheme) {
    case 'file':
      return location.path;
    case 'pvc':
      return `pvc://${location.namespace ? `${location.namespace}:` : ''}${location.claim}${slashed(location.path)}`;
    case 's3':
      return `s3://${location.bucket}${location.region ? `@${location.region}` : ''}${slashed(location.prefix)}`;
    case 'az':
      return `az://${location.account}/${location.container}${slashed(location.prefix)}`;
    case 'gs':
      return `gs://${location.bucket}${slashed(location.prefix)}`;
    case 'oci':
      return `oci://n/${location.namespace}/b/${location.bucket}/o${slashed(location.prefix)}`;
    case 'github':
      return `github://${location.owner}/${location.repo}${location.tag ? `@${location.tag}` : ''}`;
  }
}

function parsePvc(rest: string): ParsedStorageUri {
  const [head = '', ...tail] = rest.split('/');
  const colon = head.indexOf(':');
  const namespace = colon >= 0 ? head.slice(0, colon) : null;
  const claim = colon >= 0 ? head.slice(colon + 1) : head;
  if (namespace !== null && !NAME.test(namespace)) return fail('expected pvc://[namespace:]claim/path');
  if (!NAME.test(claim)) return fail('expected pvc://[namespace:]claim/path with a claim name');
  return ok({ scheme: 'pvc', namespace, claim, path: cleanPrefix(tail) });
}

function parseS3(rest: string): ParsedStorageUri {
  const [head = '', ...tail] = rest.split('/');
  const at = head.indexOf('@');
  const bucket = at >= 0 ? head.slice(0, at) : head;
  const region = at >= 0 ? head.slice(at + 1) : null;
  if (bucket === '') return fail('expected s3://bucket[@region]/path with a bucket name');
  if (!isS3Bucket(bucket)) return fail(badName('S3 bucket', bucket, S3_BUCKET_RULE));
  if (region !== null && !/^[a-z0-9-]+$/.test(region))
    return fail('expected a region such as us-east-1 after "@"');
  return ok({ scheme: 's3', bucket, region, prefix: cleanPrefix(tail) });
}

function parseAzure(rest: string): ParsedStorageUri {
  const [head = '', container = '', ...tail] = rest.split('/');
  const account = AZURE_HOST.exec(head)?.[1] ?? head;
  if (!/^[a-z0-9]{3,24}$/.test(account)) {
    return fail('expected az://account/container/path (account: 3-24 lowercase letters and digits)');
  }
  if (container === '') return fail('expected az://account/container/path with a container name');
  if (!AZURE_CONTAINER.test(container))
    return fail(badName('Azure container', container, AZURE_CONTAINER_RULE));
  return ok({ scheme: 'az', account, container, prefix: cleanPrefix(tail) });
}

function parseGcs(rest: string): ParsedStorageUri {
  const [bucket = '', ...tail] = rest.split('/');
  if (bucket === '') return fail('expected gs://bucket/path with a bucket name');
  if (!isGcsBucket(bucket)) return fail(badName('Cloud Storage bucket', bucket, GCS_BUCKET_RULE));
  return ok({ scheme: 'gs', bucket, prefix: cleanPrefix(tail) });
}

function parseOci(rest: string): ParsedStorageUri {
  const parts = rest.split('/');
  const [n, namespace = '', b, bucket = '', o, ...tail] = parts;
  if (n !== 'n' || b !== 'b' || (o !== undefined && o !== 'o') || !NAME.test(namespace) || bucket === '') {
    return fail('expected oci://n/{namespace}/b/{bucket}/o/{path}');
  }
  if (!OCI_BUCKET.test(bucket)) return fail(badName('OCI bucket', bucket, OCI_BUCKET_RULE));
  return ok({ scheme: 'oci', namespace, bucket, prefix: cleanPrefix(tail) });
}

function parseGithub(rest: string): ParsedStorageUri {
  const [owner = '', repoAndTag = '', ...extra] = rest.split('/');
  if (extra.some(Boolean)) return fail('expected github://owner/repo[@tag] (a release has no folders)');
  const at = repoAndTag.indexOf('@');
  const repo = at >= 0 ? repoAndTag.slice(0, at) : repoAndTag;
  const tag = at >= 0 ? repoAndTag.slice(at + 1) : null;
  if (!NAME.test(owner) || !NAME.test(repo)) return fail('expected github://owner/repo[@tag]');
  if (tag !== null && tag === '') return fail('expected a release tag after "@"');
  return ok({ scheme: 'github', owner, repo, tag });
}

// Each service's naming rules, as its documentation states them.
const S3_BUCKET_RULE =
  'S3 bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, with no ".." and not an IP address';
const AZURE_CONTAINER = /^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;
const AZURE_CONTAINER_RULE =
  'Azure container names are 3-63 characters of lowercase letters, digits and single hyphens, starting and ending with a letter or digit';
const GCS_BUCKET_RULE =
  'Cloud Storage bucket names are 3-63 characters (up to 222 with dots, 63 between dots) of lowercase letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit';
const OCI_BUCKET = /^[A-Za-z0-9._-]{1,256}$/;
const OCI_BUCKET_RULE =
  'OCI bucket names are 1-256 characters of letters, digits, hyphens, underscores and dots';

function isS3Bucket(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}

function isGcsBucket(name: string): boolean {
  const max = name.includes('.') ? 222 : 63;
  return (
    name.length >= 3 &&
    name.length <= max &&
    /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name) &&
    name.split('.').every((part) => part.length >= 1 && part.length <= 63)
  );
}

function badName(what: string, name: string, rule: string): string {
  return `${what} name "${clip(name)}" is not valid: ${rule}`;
}

/** Path segments joined without empty parts: `a//b/` → `a/b`; `..` is refused by the caller's rules. */
function cleanPrefix(segments: string[]): string {
  return segments.filter((segment) => segment !== '' && segment !== '.').join('/');
}

function slashed(path: string): string {
  return path ? `/${path}` : '';
}

function ok(location: StorageLocation): ParsedStorageUri {
  if (location.scheme !== 'github' && location.scheme !== 'file') {
    const path = location.scheme === 'pvc' ? location.path : location.prefix;
    if (path.split('/').includes('..')) return fail('".." is not allowed in a storage path');
  }
  return { ok: true, location };
}

function fail(message: string): ParsedStorageUri {
  return { ok: false, message };
}
