/**
 * Verifies OCI's request signatures (draft-cavage HTTP signatures, version 1, rsa-sha256),
 * as OCI's services do, with node:crypto: the Authorization header names the signed
 * headers; they must include `(request-target)`, `date` or `x-date`, `host`, and for a
 * POST `content-type`, `content-length` and `x-content-sha256`; the body must have that
 * length and SHA-256; the date must be within 5 minutes of now; and the signature must
 * verify with the simulator's public key (`ociPublicKey`). The reason of a refusal is
 * returned for the 401 answer; the key id is not checked (the simulator has one key).
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** How far a request's date may be from the server's clock (OCI allows 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Longest Authorization header read (a signature is ~500 bytes with a 2048-bit key). */
const MAX_AUTHORIZATION_CHARS = 16 * 1024;

/** The public key in a PEM (SPKI or PKCS#1) text. @throws when it is not one. */
export function readPublicKey(pem: string | Buffer): KeyObject {
  return createPublicKey(pem);
}

/** What a request brings to verification. */
export interface SignedRequest {
  method: string;
  /** Path and query, as the request line has them. */
  target: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** null when `req` is signed with the private half of `key`, else why not. */
export function signatureProblem(
  req: SignedRequest,
  key: KeyObject,
  now_ms: number = Date.now(),
): string | null {
  const auth = header(req.headers, 'authorization');
  if (auth === null) return 'the request is not signed (no Authorization header)';
  if (auth.length > MAX_AUTHORIZATION_CHARS) return 'the Authorization header is too long';
  if (!auth.startsWith('Signature ')) return 'the Authorization header is not an HTTP signature';
  const params = parseParams(auth.slice('Signature '.length));
  if (params.version !== undefined && params.version !== '1')
    return `signature version ${params.version} is not 1`;
  if (params.algorithm !== undefined && params.algorithm !== 'rsa-sha256') {
    return `signature algorithm ${params.algorithm} is not rsa-sha256`;
  }
  if (params.signature === undefined || params.keyId === undefined)
    return 'the signature has no keyId or signature';
  const signed = (params.headers ?? 'date').toLowerCase().split(' ').filter(Boolean);
  const method = req.method.toLowerCase();
  const required = ['(request-target)', 'host'];
  if (method === 'post' || method === 'put' || method === 'patch') {
    required.push('content-type', 'content-length', 'x-content-sha256');
  }
  for (const name of required) if (!signed.includes(name)) return `the signature does not cover ${name}`;
  if (!signed.includes('date') && !signed.includes('x-date'))
    return 'the signature covers neither date nor x-date';
  const date = header(req.headers, signed.includes('x-date') ? 'x-date' : 'date');
  const at_ms = date === null ? Number.NaN : Date.parse(date);
  if (!Number.isFinite(at_ms)) return 'the request has no valid date';
  if (Math.abs(at_ms - now_ms) > MAX_CLOCK_SKEW_MS) return 'the request date is more than 5 minutes from now';
  if (signed.includes('x-content-sha256')) {
    const bytes = Buffer.from(req.body, 'utf8');
    if (header(req.headers, 'content-length') !== String(bytes.length))
      return 'content-length does not match the body';
    const sha = createHash('sha256').update(bytes).digest('base64');
    if (header(req.headers, 'x-content-sha256') !== sha) return 'x-content-sha256 does not match the body';
  }
  const lines: string[] = [];
  for (const name of signed) {
    if (name === '(request-target)') {
      lines.push(`(request-target): ${method} ${req.target}`);
      continue;
    }
    const value = header(req.headers, name);
    if (value === null) return `the signed header ${name} is missing`;
    lines.push(`${name}: ${value}`);
  }
  let ok = false;
  try {
    ok = verify('sha256', Buffer.from(lines.join('\n')), key, Buffer.from(params.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? null : 'the signature does not verify';
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** `a="x",b="y"` → {a: 'x', b: 'y'} (the values are quoted; none holds a quote). */
function parseParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z]+)="([^"]*)"/g;
  let m: RegExpExecArray | null;
  let guard = 0;
  while ((m = re.exec(text)) !== null && guard++ < 32) out[m[1] as string] = m[2] as string;
  return out;
}
