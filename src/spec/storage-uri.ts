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
 */

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

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i;
// DNS-label-ish names; the services are stricter, but refusing here what they would accept is worse.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const AZURE_HOST = /^([a-z0-9]+)\.blob\.core\.windows\.net$/i;

/** Parses a storage URI; a plain path (no `scheme://`) is a local folder. */
export function parseStorageUri(uri: string): ParsedStorageUri {
  const text = uri.trim();
  if (text === '') return fail('expected a storage URI or a local path');
  const match = SCHEME.exec(text);
  if (!match) return { ok: true, location: { scheme: 'file', path: text } };
  const scheme = (match[1] as string).toLowerCase();
  const rest = match[2] as string;
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
        `unknown storage scheme "${scheme}://" (expected one of oci, s3, az, gs, github, pvc, file)`,
      );
  }
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
  if (!NAME.test(bucket)) return fail('expected s3://bucket[@region]/path with a bucket name');
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
  if (!/^[a-z0-9$][a-z0-9-]{1,62}$/.test(container)) {
    return fail('expected az://account/container/path with a container name');
  }
  return ok({ scheme: 'az', account, container, prefix: cleanPrefix(tail) });
}

function parseGcs(rest: string): ParsedStorageUri {
  const [bucket = '', ...tail] = rest.split('/');
  if (!NAME.test(bucket)) return fail('expected gs://bucket/path with a bucket name');
  return ok({ scheme: 'gs', bucket, prefix: cleanPrefix(tail) });
}

function parseOci(rest: string): ParsedStorageUri {
  const parts = rest.split('/');
  const [n, namespace = '', b, bucket = '', o, ...tail] = parts;
  if (
    n !== 'n' ||
    b !== 'b' ||
    (o !== undefined && o !== 'o') ||
    !NAME.test(namespace) ||
    !NAME.test(bucket)
  ) {
    return fail('expected oci://n/{namespace}/b/{bucket}/o/{path}');
  }
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

/** A relative, `/`-separated path with no empty, `.` or `..` segment and no backslash or NUL. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
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
