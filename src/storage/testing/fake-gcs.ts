/**
 * A loopback implementation of the subset of Google Cloud Storage's JSON API that
 * infermark uses; no real GCS server runs here. There is no emulator that installs
 * from npm alone (Google's own emulator ships in the gcloud SDK, fake-gcs-server is a
 * Go binary with no Debian package, firebase-tools' storage emulator drags in the
 * whole Firebase CLI), so the tests run the official `@google-cloud/storage` client
 * against this server in emulator mode (no credentials, as with any GCS emulator).
 *
 * Served: bucket get; object insert by multipart and resumable upload; object
 * metadata; media download (`alt=media`, with `x-goog-hash`); list with `prefix` and
 * `pageToken`; object delete (the client deletes an object whose hash it refuses).
 * Kept from the real service because the client relies on them: `md5Hash` and
 * `crc32c` on every object, and a 400 when an upload's declared `md5Hash` does not
 * match its bytes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGcsObject {
  name: string;
  data: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  generation: number;
}

export interface FakeGcs {
  /** `http://127.0.0.1:PORT`: what STORAGE_EMULATOR_HOST or `gcp_endpoint` takes. */
  endpoint: string;
  /** The objects of one bucket, by name (live view). */
  objects(bucket: string): Map<string, FakeGcsObject>;
  /** `METHOD path?query` of every request, in order (to see which upload protocol was used). */
  requests: string[];
  stop(): Promise<void>;
}

export interface FakeGcsOptions {
  buckets: string[];
  /** Most items per list page (GCS: 1000); small values exercise paging. */
  pageSize?: number;
}

interface PendingUpload {
  bucket: string;
  resource: Partial<ObjectResource>;
  chunks: Buffer[];
}

interface ObjectResource {
  name: string;
  contentType?: string;
  md5Hash?: string;
  metadata?: Record<string, string>;
}

/** Starts the server on 127.0.0.1 with the given (empty) buckets. */
export async function startFakeGcs(options: FakeGcsOptions): Promise<FakeGcs> {
  const buckets = new Map(options.buckets.map((name) => [name, new Map<string, FakeGcsObject>()]));
  const uploads = new Map<string, PendingUpload>();
  const requests: string[] = [];
  const state = { buckets, uploads, pageSize: options.pageSize ?? 1000, endpoint: '', generation: 1 };
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handle(state, req, res).catch((error: unknown) => sendError(res, 500, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: state.endpoint,
    objects: (bucket) => buckets.get(bucket) ?? new Map(),
    requests,
    stop: () => stopServer(server),
  };
}

type State = {
  buckets: Map<string, Map<string, FakeGcsObject>>;
  uploads: Map<string, PendingUpload>;
  pageSize: number;
  endpoint: string;
  generation: number;
};

async function handle(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', state.endpoint);
  const path = url.pathname;
  const body = await readBody(req);
  let match: RegExpExecArray | null;
  if ((match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path))) {
    return upload(state, req, res, decodeURIComponent(match[1] as string), url, body);
  }
  if ((match = /^\/storage\/v1\/b\/([^/]+)$/.exec(path)) && req.method === 'GET') {
    const bucket = decodeURIComponent(match[1] as string);
    if (!state.buckets.has(bucket)) return sendError(res, 404, 'The specified bucket does not exist.');
    return sendJson(res, 200, { kind: 'storage#bucket', id: bucket, name: bucket, location: 'US' });
  }
  if ((match = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path)) && req.method === 'GET') {
    return list(state, res, decodeURIComponent(match[1] as string), url);
  }
  if ((match = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path))) {
    return objectRequest(state, req, res, match, url);
  }
  sendError(res, 501, `fake-gcs does not implement ${req.method} ${path}`);
}

function objectRequest(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  match: RegExpExecArray,
  url: URL,
): void {
  const objects = state.buckets.get(decodeURIComponent(match[1] as string));
  if (!objects) return sendError(res, 404, 'The specified bucket does not exist.');
  const name = decodeURIComponent(match[2] as string);
  const object = objects.get(name);
  if (!object) return sendError(res, 404, `No such object: ${name}`);
  if (req.method === 'DELETE') {
    objects.delete(name);
    res.writeHead(204).end();
    return;
  }
  if (req.method !== 'GET') return sendError(res, 405, 'method not allowed');
  if (url.searchParams.get('alt') !== 'media')
    return sendJson(res, 200, resource(state, match[1] as string, object));
  res.writeHead(200, {
    'content-type': object.contentType,
    'content-length': object.data.length,
    'x-goog-hash': `crc32c=${crc32cBase64(object.data)},md5=${md5Base64(object.data)}`,
    'x-goog-generation': String(object.generation),
    'x-goog-stored-content-length': String(object.data.length),
  });
  res.end(object.data);
}

function list(state: State, res: ServerResponse, bucket: string, url: URL): void {
  const objects = state.buckets.get(bucket);
  if (!objects) return sendError(res, 404, 'The specified bucket does not exist.');
  const prefix = url.searchParams.get('prefix') ?? '';
  const pageSize = Math.min(Number(url.searchParams.get('maxResults') ?? state.pageSize), state.pageSize);
  const names = [...objects.keys()].filter((name) => name.startsWith(prefix)).sort();
  const start = Number(url.searchParams.get('pageToken') ?? '0');
  const page = names.slice(start, start + pageSize);
  const next = start + pageSize < names.length ? String(start + pageSize) : undefined;
  sendJson(res, 200, {
    kind: 'storage#objects',
    items: page.map((name) => resource(state, bucket, objects.get(name) as FakeGcsObject)),
    ...(next ? { nextPageToken: next } : {}),
  });
}

function upload(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string,
  url: URL,
  body: Buffer,
): void {
  if (!state.buckets.has(bucket)) return sendError(res, 404, 'The specified bucket does not exist.');
  const type = url.searchParams.get('uploadType');
  if (type === 'multipart' && req.method === 'POST') {
    const parts = multipartParts(req.headers['content-type'] ?? '', body);
    if (!parts || parts.length !== 2) return sendError(res, 400, 'expected a metadata part and a media part');
    const meta = JSON.parse((parts[0] as Buffer).toString('utf8')) as Partial<ObjectResource>;
    return store(
      state,
      res,
      bucket,
      { ...meta, name: meta.name ?? url.searchParams.get('name') ?? '' },
      parts[1] as Buffer,
    );
  }
  if (type === 'resumable' && req.method === 'POST') {
    const meta = body.length ? (JSON.parse(body.toString('utf8')) as Partial<ObjectResource>) : {};
    const id = randomUUID();
    const name = meta.name ?? url.searchParams.get('name') ?? '';
    state.uploads.set(id, { bucket, resource: { ...meta, name }, chunks: [] });
    const location = `${state.endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`;
    res.writeHead(200, { location }).end();
    return;
  }
  if (type === 'resumable' && req.method === 'PUT') return resumableChunk(state, req, res, url, body);
  sendError(res, 400, `unsupported upload ${req.method} uploadType=${type}`);
}

/**
 * One PUT of a resumable session. `Content-Range: bytes a-b/total` sends a chunk;
 * `bytes a-*\/*` streams the rest in this one request (the session ends with it);
 * `bytes *\/*` only asks how much has arrived.
 */
function resumableChunk(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
): void {
  const id = url.searchParams.get('upload_id') ?? '';
  const pending = state.uploads.get(id);
  if (!pending) return sendError(res, 404, 'no such upload session');
  const range = /^bytes (\*|\d+-(\d+|\*))\/(\d+|\*)$/.exec(String(req.headers['content-range'] ?? ''));
  if (!range) return sendError(res, 400, 'bad Content-Range');
  pending.chunks.push(body);
  const received = pending.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const streamedToEnd = range[2] === '*';
  const complete = streamedToEnd || (range[3] !== '*' && received >= Number(range[3]));
  if (!complete) {
    res.writeHead(308, received > 0 ? { range: `bytes=0-${received - 1}` } : {}).end();
    return;
  }
  state.uploads.delete(id);
  const data = Buffer.concat(pending.chunks);
  // The final request carries the client's hash of the whole object; GCS checks it.
  const md5 = /md5=([^,]+)/.exec(String(req.headers['x-goog-hash'] ?? ''))?.[1];
  if (md5 !== undefined && md5 !== md5Base64(data)) {
    return sendError(res, 400, 'Provided MD5 hash does not match calculated MD5 hash');
  }
  store(state, res, pending.bucket, pending.resource as ObjectResource, data);
}

function store(
  state: State,
  res: ServerResponse,
  bucket: string,
  meta: Partial<ObjectResource>,
  data: Buffer,
): void {
  if (!meta.name) return sendError(res, 400, 'object name required');
  // GCS checks a declared md5Hash against the bytes it received and refuses the object.
  if (meta.md5Hash !== undefined && meta.md5Hash !== md5Base64(data)) {
    return sendError(res, 400, 'Provided MD5 hash does not match calculated MD5 hash');
  }
  const object: FakeGcsObject = {
    name: meta.name,
    data,
    contentType: meta.contentType ?? 'application/octet-stream',
    metadata: meta.metadata ?? {},
    generation: state.generation++,
  };
  (state.buckets.get(bucket) as Map<string, FakeGcsObject>).set(object.name, object);
  sendJson(res, 200, resource(state, bucket, object));
}

function resource(state: State, bucket: string, object: FakeGcsObject): Record<string, unknown> {
  const encoded = encodeURIComponent(object.name);
  return {
    kind: 'storage#object',
    id: `${bucket}/${object.name}/${object.generation}`,
    selfLink: `${state.endpoint}/storage/v1/b/${bucket}/o/${encoded}`,
    mediaLink: `${state.endpoint}/download/storage/v1/b/${bucket}/o/${encoded}?alt=media`,
    name: object.name,
    bucket,
    generation: String(object.generation),
    metageneration: '1',
    contentType: object.contentType,
    size: String(object.data.length),
    md5Hash: md5Base64(object.data),
    crc32c: crc32cBase64(object.data),
    etag: `CN${object.generation}=`,
    metadata: object.metadata,
    timeCreated: new Date().toISOString(),
    updated: new Date().toISOString(),
    storageClass: 'STANDARD',
  };
}

/** The parts of a `multipart/related` body (each part's headers dropped). */
function multipartParts(contentType: string, body: Buffer): Buffer[] | null {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return null;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return null;
    const part = body.subarray(start + 2, next - 2); // drop the CRLF after the delimiter and before the next
    const headerEnd = part.indexOf('\r\n\r\n');
    parts.push(headerEnd < 0 ? Buffer.alloc(0) : part.subarray(headerEnd + 4));
    at = next;
  }
  return parts;
}

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) as GCS reports it: base64 of the big-endian 32-bit value. */
function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ message, reason: 'fake' }] } });
}

async function stopServer(server: Server): Promise<void> {
  // Keep-alive sockets would hold close() open until they time out.
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
