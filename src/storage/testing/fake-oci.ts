/**
 * A loopback implementation of the subset of OCI Object Storage's API that infermark
 * uses; no real OCI Object Storage server runs here (Oracle ships no emulator, and
 * none installs from npm or Debian). The tests run Oracle's own `oci-objectstorage`
 * client against it.
 *
 * Served: `HEAD /n/{ns}/b/{bucket}`; `PUT|HEAD|GET /n/{ns}/b/{bucket}/o/{name}`;
 * `GET /n/{ns}/b/{bucket}/o` (prefix, start, limit; `nextStartWith`). Kept from the
 * real service: every request must carry a valid OCI HTTP signature (draft-cavage:
 * `(request-target)`, `host` and `date`/`x-date` signed with RSA-SHA256 by a key the
 * server knows, plus `x-content-sha256`, `content-length` and `content-type` for
 * bodies other than an object's), checked against the public key, so a passing test
 * proves the SDK really signs; a PUT needs Content-Length (411) and is refused with
 * 400 when Content-MD5 does not match the bytes; user metadata travels as `opc-meta-*`.
 */
import { createHash, createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOciObject {
  data: Buffer;
  contentType: string;
  meta: Record<string, string>;
  etag: string;
}

export interface FakeOci {
  /** `http://127.0.0.1:PORT`: what the store's `endpoint` parameter takes. */
  endpoint: string;
  /** The objects of one bucket, by name (live view). */
  objects(bucket: string): Map<string, FakeOciObject>;
  /** keyIds of the requests whose signature verified, in order. */
  signedBy: string[];
  stop(): Promise<void>;
}

export interface FakeOciOptions {
  namespace: string;
  buckets: string[];
  /** Signing keys the server accepts: keyId (`tenancy/user/fingerprint`, or `ST$<token>`) → public key PEM. */
  keys: Record<string, string>;
  /** Most objects per list page (OCI: 1000); small values exercise paging. */
  pageSize?: number;
}

interface State {
  namespace: string;
  buckets: Map<string, Map<string, FakeOciObject>>;
  keys: Map<string, KeyObject>;
  pageSize: number;
  signedBy: string[];
}

// OCI refuses signatures whose date is further than this from its clock.
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** Starts the server on 127.0.0.1 with the given (empty) buckets. */
export async function startFakeOci(options: FakeOciOptions): Promise<FakeOci> {
  const state: State = {
    namespace: options.namespace,
    buckets: new Map(options.buckets.map((name) => [name, new Map<string, FakeOciObject>()])),
    keys: new Map(Object.entries(options.keys).map(([id, pem]) => [id, createPublicKey(pem)])),
    pageSize: options.pageSize ?? 1000,
    signedBy: [],
  };
  const server = createServer((req, res) => {
    handle(state, req, res).catch((error: unknown) =>
      sendError(res, req, 500, 'InternalServerError', String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects: (bucket) => state.buckets.get(bucket) ?? new Map(),
    signedBy: state.signedBy,
    stop: () => stopServer(server),
  };
}

async function handle(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const url = new URL(req.url ?? '/', 'http://fake');
  const match = /^\/n\/([^/]+)\/b\/([^/]+)(?:\/o(?:\/(.+))?)?$/.exec(url.pathname);
  const isObjectWrite = req.method === 'PUT' && match?.[3] !== undefined;
  const refusal = checkSignature(state, req, body, !isObjectWrite);
  if (refusal) return sendError(res, req, 401, 'NotAuthenticated', refusal);
  if (!match || decodeURIComponent(match[1] as string) !== state.namespace) {
    return sendError(
      res,
      req,
      404,
      'NamespaceNotFound',
      'You do not have authorization to perform this request, or the requested resource could not be found.',
    );
  }
  const bucketName = decodeURIComponent(match[2] as string);
  const bucket = state.buckets.get(bucketName);
  if (!bucket) {
    return sendError(
      res,
      req,
      404,
      'BucketNotFound',
      `Either the bucket named '${bucketName}' does not exist in the namespace '${state.namespace}' or you are not authorized to access it`,
    );
  }
  const objectName = match[3] !== undefined ? decodeURIComponent(match[3]) : undefined;
  const listing = url.pathname.endsWith('/o');
  if (objectName === undefined && !listing && req.method === 'HEAD') {
    res.writeHead(200, { etag: `bucket-${bucketName}`, 'opc-request-id': randomUUID() }).end();
    return;
  }
  if (listing && req.method === 'GET') return list(state, res, bucket, url);
  if (objectName !== undefined && req.method === 'PUT') return putObject(req, res, bucket, objectName, body);
  if (objectName !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
    return readObject(req, res, bucket, bucketName, objectName);
  }
  sendError(res, req, 501, 'NotImplemented', `fake-oci does not implement ${req.method} ${url.pathname}`);
}

/**
 * Why a request's signature is refused, or null when it verifies. `withBody`: the
 * body headers must be signed too (every PUT/POST except an object's PutObject).
 */
function checkSignature(state: State, req: IncomingMessage, body: Buffer, withBody: boolean): string | null {
  const header = req.headers['authorization'] ?? '';
  if (!header.startsWith('Signature ')) return 'missing Signature authorization';
  const params: Record<string, string> = Object.fromEntries(
    [...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]),
  );
  const key = state.keys.get(params['keyId'] ?? '');
  if (!key) return 'unknown keyId';
  if (params['algorithm'] !== 'rsa-sha256') return 'algorithm must be rsa-sha256';
  const signed = (params['headers'] ?? 'date').split(' ');
  const required = ['(request-target)', 'host'];
  if ((req.method === 'PUT' || req.method === 'POST') && withBody) {
    required.push('content-length', 'content-type', 'x-content-sha256');
    const sha = createHash('sha256').update(body).digest('base64');
    if (req.headers['x-content-sha256'] !== sha) return 'x-content-sha256 does not match the body';
  }
  const dateHeader = signed.includes('x-date') ? 'x-date' : signed.includes('date') ? 'date' : null;
  if (!dateHeader || required.some((name) => !signed.includes(name)))
    return `signed headers incomplete: ${signed.join(' ')}`;
  const skew = Math.abs(Date.parse(String(req.headers[dateHeader])) - Date.now());
  if (!(skew <= MAX_CLOCK_SKEW_MS)) return 'request date too far from the server clock';
  const lines = signed.map((name) =>
    name === '(request-target)'
      ? `(request-target): ${req.method?.toLowerCase()} ${req.url}`
      : `${name}: ${req.headers[name] ?? ''}`,
  );
  const ok = verify(
    'RSA-SHA256',
    Buffer.from(lines.join('\n')),
    key,
    Buffer.from(params['signature'] ?? '', 'base64'),
  );
  if (!ok) return 'signature does not verify';
  state.signedBy.push(params['keyId'] as string);
  return null;
}

function putObject(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: Map<string, FakeOciObject>,
  name: string,
  data: Buffer,
): void {
  const declared = req.headers['content-length'];
  if (declared === undefined) return sendError(res, req, 411, 'LengthRequired', 'Content-Length is required');
  if (Number(declared) !== data.length)
    return sendError(res, req, 400, 'InvalidParameter', 'Content-Length does not match the body');
  const md5 = createHash('md5').update(data).digest('base64');
  const declaredMd5 = req.headers['content-md5'];
  if (declaredMd5 !== undefined && declaredMd5 !== md5) {
    return sendError(
      res,
      req,
      400,
      'UnmatchedContentMD5',
      `The computed MD5 of the request body (${md5}) does not match the Content-MD5 header (${declaredMd5})`,
    );
  }
  const meta = Object.fromEntries(
    Object.entries(req.headers)
      .filter(([name]) => name.startsWith('opc-meta-'))
      .map(([name, value]) => [name, String(value)]),
  );
  const object: FakeOciObject = {
    data,
    contentType: req.headers['content-type'] ?? 'application/octet-stream',
    meta,
    etag: randomUUID(),
  };
  bucket.set(name, object);
  res
    .writeHead(200, {
      etag: object.etag,
      'opc-content-md5': md5,
      'last-modified': new Date().toUTCString(),
      'opc-request-id': randomUUID(),
    })
    .end();
}

function readObject(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: Map<string, FakeOciObject>,
  bucketName: string,
  name: string,
): void {
  const object = bucket.get(name);
  if (!object)
    return sendError(
      res,
      req,
      404,
      'ObjectNotFound',
      `The object '${name}' was not found in the bucket '${bucketName}'`,
    );
  res.writeHead(200, {
    'content-length': object.data.length,
    'content-type': object.contentType,
    'content-md5': createHash('md5').update(object.data).digest('base64'),
    etag: object.etag,
    'last-modified': new Date().toUTCString(),
    'accept-ranges': 'bytes',
    'opc-request-id': randomUUID(),
    ...object.meta,
  });
  res.end(req.method === 'HEAD' ? undefined : object.data);
}

function list(state: State, res: ServerResponse, bucket: Map<string, FakeOciObject>, url: URL): void {
  const prefix = url.searchParams.get('prefix') ?? '';
  const start = url.searchParams.get('start') ?? '';
  const limit = Math.min(Number(url.searchParams.get('limit') ?? state.pageSize), state.pageSize);
  const fields = (url.searchParams.get('fields') ?? 'name').split(',');
  const names = [...bucket.keys()].filter((name) => name.startsWith(prefix) && name >= start).sort();
  const page = names.slice(0, limit);
  const objects = page.map((name) => ({
    name,
    ...(fields.includes('size') ? { size: (bucket.get(name) as FakeOciObject).data.length } : {}),
  }));
  const next = names[limit];
  sendJson(res, 200, { objects, prefixes: [], ...(next !== undefined ? { nextStartWith: next } : {}) });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'opc-request-id': randomUUID(),
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  code: string,
  message: string,
): void {
  if (req.method === 'HEAD') {
    res.writeHead(status, { 'opc-request-id': randomUUID() }).end();
    return;
  }
  sendJson(res, status, { code, message });
}

async function stopServer(server: Server): Promise<void> {
  // Keep-alive sockets would hold close() open until they time out.
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
