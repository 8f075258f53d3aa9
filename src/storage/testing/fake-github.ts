/**
 * A loopback implementation of the subset of GitHub's REST API (releases and their
 * assets) that infermark uses; no real GitHub server runs here, and no GitHub API
 * emulator installs from npm or Debian. The tests run `@octokit/rest` against it.
 *
 * Served: `GET /repos/{o}/{r}`; releases `latest`, `tags/{tag}` and create; list
 * assets (paged with a `Link` header); upload on the release's `upload_url` (under
 * `/uploads`, as GitHub Enterprise serves it); delete; asset download with
 * `accept: application/octet-stream`, answered like GitHub with a 302 to a URL that
 * needs no token. Kept from the real service: the token in `authorization: token|Bearer`
 * (401 otherwise); 422 for a duplicate asset name and for an empty asset; asset names
 * outside letters, digits, `.`, `-`, `_` are renamed (to `.`); `digest` is
 * `sha256:<hex>` of the bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeAsset {
  id: number;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface FakeRelease {
  id: number;
  tag: string;
  draft: boolean;
  assets: FakeAsset[];
}

export interface FakeRepo {
  owner: string;
  repo: string;
  /** Whether the token may write (`permissions.push`); default true. */
  push?: boolean;
  /** Tags of releases that already exist, oldest first. */
  releases?: string[];
}

export interface FakeGithub {
  /** The API root (what `github_api_url` takes), `http://127.0.0.1:PORT`. */
  url: string;
  /** The releases of one repository (live view). */
  releases(owner: string, repo: string): FakeRelease[];
  stop(): Promise<void>;
}

export interface FakeGithubOptions {
  token: string;
  repos: FakeRepo[];
  /** Most items per page (GitHub: 100); small values exercise paging. */
  maxPerPage?: number;
  /** Whether assets report `digest` (github.com since 2025; older GitHub Enterprise does not); default true. */
  digests?: boolean;
}

interface RepoState {
  push: boolean;
  releases: FakeRelease[];
}

interface State {
  url: string;
  token: string;
  repos: Map<string, RepoState>;
  maxPerPage: number;
  digests: boolean;
  nextId: number;
}

/** Starts the server on 127.0.0.1. */
export async function startFakeGithub(options: FakeGithubOptions): Promise<FakeGithub> {
  const state: State = {
    url: '',
    token: options.token,
    repos: new Map(),
    maxPerPage: options.maxPerPage ?? 100,
    digests: options.digests ?? true,
    nextId: 1,
  };
  for (const repo of options.repos) {
    const releases = (repo.releases ?? []).map((tag) => ({
      id: state.nextId++,
      tag,
      draft: false,
      assets: [],
    }));
    state.repos.set(`${repo.owner}/${repo.repo}`, { push: repo.push ?? true, releases });
  }
  const server = createServer((req, res) => {
    handle(state, req, res).catch((error: unknown) => sendJson(res, 500, { message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: state.url,
    releases: (owner, repo) => state.repos.get(`${owner}/${repo}`)?.releases ?? [],
    stop: () => stopServer(server),
  };
}

async function handle(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', state.url);
  const body = await readBody(req);
  const download = /^\/downloads\/(\d+)\/[^/]+$/.exec(url.pathname);
  // Like GitHub's signed download URLs, the redirect target needs no token.
  if (download && req.method === 'GET') return sendDownload(state, res, Number(download[1]));
  if (!authorized(state, req)) {
    return sendJson(res, 401, {
      message: 'Bad credentials',
      documentation_url: 'https://docs.github.com/rest',
      status: '401',
    });
  }
  const upload = /^\/uploads\/repos\/([^/]+)\/([^/]+)\/releases\/(\d+)\/assets$/.exec(url.pathname);
  if (upload && req.method === 'POST') return uploadAsset(state, req, res, upload, url, body);
  const match = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(url.pathname);
  const repo = match ? state.repos.get(`${match[1]}/${match[2]}`) : undefined;
  if (!match || !repo) return notFound(res);
  const rest = match[3] ?? '';
  const base = `${state.url}/repos/${match[1]}/${match[2]}`;
  if (rest === '' && req.method === 'GET') {
    return sendJson(res, 200, {
      id: 1,
      name: match[2],
      full_name: `${match[1]}/${match[2]}`,
      default_branch: 'main',
      permissions: { admin: false, push: repo.push, pull: true },
    });
  }
  return releasesRoute(state, req, res, repo, base, rest, url, body);
}

function releasesRoute(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  repo: RepoState,
  base: string,
  rest: string,
  url: URL,
  body: Buffer,
): void {
  let m: RegExpExecArray | null;
  if (rest === '/releases/latest' && req.method === 'GET') {
    const latest = repo.releases.filter((r) => !r.draft).at(-1);
    return latest ? sendJson(res, 200, releaseJson(state, base, latest)) : notFound(res);
  }
  if ((m = /^\/releases\/tags\/(.+)$/.exec(rest)) && req.method === 'GET') {
    const release = repo.releases.find((r) => !r.draft && r.tag === decodeURIComponent(m?.[1] as string));
    return release ? sendJson(res, 200, releaseJson(state, base, release)) : notFound(res);
  }
  if (rest === '/releases' && req.method === 'POST') {
    if (!repo.push)
      return sendJson(res, 403, { message: 'Resource not accessible by personal access token' });
    const input = JSON.parse(body.toString('utf8')) as { tag_name?: string; draft?: boolean };
    if (!input.tag_name) return validationFailed(res, 'Release', 'missing_field', 'tag_name');
    if (repo.releases.some((r) => r.tag === input.tag_name))
      return validationFailed(res, 'Release', 'already_exists', 'tag_name');
    const release: FakeRelease = {
      id: state.nextId++,
      tag: input.tag_name,
      draft: input.draft ?? false,
      assets: [],
    };
    repo.releases.push(release);
    return sendJson(res, 201, releaseJson(state, base, release));
  }
  if ((m = /^\/releases\/(\d+)\/assets$/.exec(rest)) && req.method === 'GET') {
    const release = repo.releases.find((r) => r.id === Number(m?.[1]));
    if (!release) return notFound(res);
    return sendPage(
      state,
      res,
      url,
      release.assets.map((a) => assetJson(state, base, a)),
    );
  }
  if ((m = /^\/releases\/assets\/(\d+)$/.exec(rest))) {
    const id = Number(m[1]);
    const release = repo.releases.find((r) => r.assets.some((a) => a.id === id));
    const asset = release?.assets.find((a) => a.id === id);
    if (!release || !asset) return notFound(res);
    if (req.method === 'DELETE') {
      if (!repo.push)
        return sendJson(res, 403, { message: 'Resource not accessible by personal access token' });
      release.assets = release.assets.filter((a) => a.id !== id);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && req.headers['accept'] === 'application/octet-stream') {
      res.writeHead(302, { location: `${state.url}/downloads/${asset.id}/${asset.name}` }).end();
      return;
    }
    if (req.method === 'GET') return sendJson(res, 200, assetJson(state, base, asset));
  }
  notFound(res);
}

function uploadAsset(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  match: RegExpExecArray,
  url: URL,
  body: Buffer,
): void {
  const repo = state.repos.get(`${match[1]}/${match[2]}`);
  const release = repo?.releases.find((r) => r.id === Number(match[3]));
  if (!repo || !release) return notFound(res);
  if (!repo.push) return sendJson(res, 403, { message: 'Resource not accessible by personal access token' });
  const rawName = url.searchParams.get('name');
  if (!rawName) return validationFailed(res, 'ReleaseAsset', 'missing_field', 'name');
  if (!req.headers['content-type']) return sendJson(res, 400, { message: 'Content-Type header is required' });
  if (Number(req.headers['content-length']) !== body.length)
    return sendJson(res, 400, { message: 'Bad Content-Length' });
  if (body.length === 0) {
    return sendJson(res, 422, {
      message: 'Validation Failed',
      errors: [
        {
          resource: 'ReleaseAsset',
          code: 'custom',
          field: 'size',
          message: 'size must be greater than or equal to 1',
        },
      ],
    });
  }
  const name = githubAssetName(rawName);
  if (release.assets.some((a) => a.name === name))
    return validationFailed(res, 'ReleaseAsset', 'already_exists', 'name');
  const asset: FakeAsset = {
    id: state.nextId++,
    name,
    contentType: String(req.headers['content-type']),
    data: body,
  };
  release.assets.push(asset);
  sendJson(res, 201, assetJson(state, `${state.url}/repos/${match[1]}/${match[2]}`, asset));
}

/** GitHub's renaming of asset names: characters other than letters, digits, `.`, `-`, `_` become `.`. */
function githubAssetName(name: string): string {
  const renamed = name.replace(/[^A-Za-z0-9._-]/g, '.');
  return renamed.startsWith('.') ? `default${renamed}` : renamed;
}

function sendDownload(state: State, res: ServerResponse, id: number): void {
  for (const repo of state.repos.values()) {
    for (const release of repo.releases) {
      const asset = release.assets.find((a) => a.id === id);
      if (asset) {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': asset.data.length,
        });
        res.end(asset.data);
        return;
      }
    }
  }
  notFound(res);
}

function releaseJson(state: State, base: string, release: FakeRelease): Record<string, unknown> {
  const repoPath = base.slice(state.url.length);
  return {
    url: `${base}/releases/${release.id}`,
    html_url: `${base}/releases/tag/${release.tag}`,
    assets_url: `${base}/releases/${release.id}/assets`,
    upload_url: `${state.url}/uploads${repoPath}/releases/${release.id}/assets{?name,label}`,
    id: release.id,
    tag_name: release.tag,
    name: release.tag,
    draft: release.draft,
    prerelease: false,
    assets: release.assets.map((a) => assetJson(state, base, a)),
  };
}

function assetJson(state: State, base: string, asset: FakeAsset): Record<string, unknown> {
  return {
    url: `${base}/releases/assets/${asset.id}`,
    browser_download_url: `${state.url}/downloads/${asset.id}/${asset.name}`,
    id: asset.id,
    node_id: `RA_${asset.id}`,
    name: asset.name,
    label: null,
    state: 'uploaded',
    content_type: asset.contentType,
    size: asset.data.length,
    digest: state.digests ? `sha256:${createHash('sha256').update(asset.data).digest('hex')}` : null,
    download_count: 0,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    uploader: null,
  };
}

/** One page of `items` (`per_page`, `page`), with GitHub's `Link: <…>; rel="next"`. */
function sendPage(state: State, res: ServerResponse, url: URL, items: unknown[]): void {
  const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), state.maxPerPage);
  const page = Number(url.searchParams.get('page') ?? 1);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const headers: Record<string, string> = {};
  if (page * perPage < items.length) {
    const next = new URL(url.toString());
    next.searchParams.set('page', String(page + 1));
    next.searchParams.set('per_page', String(perPage));
    headers['link'] = `<${next.toString()}>; rel="next"`;
  }
  sendJson(res, 200, slice, headers);
}

function authorized(state: State, req: IncomingMessage): boolean {
  const header = req.headers['authorization'] ?? '';
  const match = /^(?:token|bearer) (.+)$/i.exec(header);
  return match?.[1] === state.token;
}

function validationFailed(res: ServerResponse, resource: string, code: string, field: string): void {
  sendJson(res, 422, { message: 'Validation Failed', errors: [{ resource, code, field }], status: '422' });
}

function notFound(res: ServerResponse): void {
  sendJson(res, 404, {
    message: 'Not Found',
    documentation_url: 'https://docs.github.com/rest',
    status: '404',
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function stopServer(server: Server): Promise<void> {
  // Keep-alive sockets would hold close() open until they time out.
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
