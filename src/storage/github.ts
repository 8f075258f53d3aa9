/**
 * GitHub release assets (`github://owner/repo[@tag]`) behind the ObjectStore
 * interface, with `@octokit/rest`. The release is the URI's tag (created, published,
 * when the tag has no release yet) or, without a tag, the repository's latest
 * release. Assets have no folders and GitHub renames names outside letters, digits,
 * `.`, `-` and `_`, so keys are mapped to asset names reversibly (`assetName`).
 * GitHub refuses empty assets, so an empty object is stored as a one-byte
 * placeholder under a marked name. Token: `github_token` (or `github_token_file`,
 * GITHUB_TOKEN, GH_TOKEN); `github_api_url` (or GITHUB_API_URL) for GitHub Enterprise.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { Octokit } from '@octokit/rest';
import { formatStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import { credential, setting } from './credentials.js';
import type { ObjectStore, ObjectToPut, StoredObject, StoreFactory, StoreOptions } from './object-store.js';
import {
  configError,
  describeError,
  httpStatusOf,
  isRetryable,
  permanentKindOf,
  rethrowAs,
  StorageError,
} from './storage-error.js';
import { digestOf } from './stored-digest.js';

type GithubLocation = Extract<StorageLocation, { scheme: 'github' }>;

interface Release {
  id: number;
  upload_url: string;
  tag_name: string;
}

interface Asset {
  id: number;
  name: string;
  size: number;
  state: string;
  digest?: string | null;
}

const PLACEHOLDER = Buffer.from('\n');
const PLACEHOLDER_SHA256 = `sha256:${createHash('sha256').update(PLACEHOLDER).digest('hex')}`;
const EMPTY_SHA256 = `sha256:${createHash('sha256').digest('hex')}`;
// What GitHub keeps in an asset name; every other character is escaped.
const PLAIN = /^[A-Za-z0-9.-]$/;
const EMPTY_MARK = '_0';

/** Opens a store; the token is checked on first use (preflight). */
export const createStore: StoreFactory<GithubLocation> = async (options) =>
  new GithubStore(formatStorageUri(options.location), options);

/**
 * The asset name of a key: `/` → `__`, `_` → `_-`, any other character outside
 * letters, digits, `.`, `-` → `_xHH` per UTF-8 byte (and a leading or trailing `.`,
 * which GitHub would rename); `empty` appends the empty-object mark `_0`.
 */
export function assetName(key: string, empty = false): string {
  let out = '';
  for (const ch of key) {
    if (ch === '/') out += '__';
    else if (ch === '_') out += '_-';
    else if (PLAIN.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `_x${byte.toString(16).padStart(2, '0')}`;
  }
  if (out.startsWith('.')) out = `_x2e${out.slice(1)}`;
  if (out.endsWith('.')) out = `${out.slice(0, -1)}_x2e`;
  return empty ? out + EMPTY_MARK : out;
}

/** The key an asset name stands for, or null for a name `assetName` would not produce. */
export function keyOfAsset(name: string): { key: string; empty: boolean } | null {
  const bytes: number[] = [];
  let empty = false;
  for (let i = 0; i < name.length;) {
    const ch = name[i] as string;
    const next = name[i + 1];
    if (ch !== '_') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      i += 1;
    } else if (next === '_' || next === '-') {
      bytes.push(next === '_' ? 0x2f : 0x5f);
      i += 2;
    } else if (next === 'x' && /^[0-9a-f]{2}$/.test(name.slice(i + 2, i + 4))) {
      bytes.push(parseInt(name.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (next === '0' && i + 2 === name.length) {
      empty = true;
      i += 2;
    } else {
      return null;
    }
  }
  const key = Buffer.from(bytes).toString('utf8');
  // Only the canonical spelling counts, so each key has exactly one asset name.
  return assetName(key, empty) === name ? { key, empty } : null;
}

class GithubStore implements ObjectStore {
  private octokit: Octokit | null = null;
  private release: Promise<Release> | null = null;
  private index: Promise<Map<string, Asset>> | null = null;

  constructor(
    readonly display: string,
    private readonly options: StoreOptions<GithubLocation>,
  ) {}

  private get repoRef(): { owner: string; repo: string } {
    return { owner: this.options.location.owner, repo: this.options.location.repo };
  }

  private get repoName(): string {
    return `${this.options.location.owner}/${this.options.location.repo}`;
  }

  async preflight(): Promise<void> {
    const octokit = this.client();
    let permissions: { push?: boolean } | undefined;
    try {
      permissions = (await octokit.rest.repos.get(this.repoRef)).data.permissions;
    } catch (error) {
      if (httpStatusOf(error) === 404) {
        throw configError(
          this.display,
          `repository ${this.repoName} not found, or the token cannot see it: fix outputLocation.storageUri or the token's repository access`,
        );
      }
      throw this.failure('preflight', '', error);
    }
    // Fine-grained tokens and GitHub Apps may omit permissions; the first upload tells then.
    if (permissions && permissions.push === false) {
      throw configError(
        this.display,
        `the token cannot write to ${this.repoName}: give it contents: write (classic tokens: repo scope)`,
      );
    }
    await this.writableRelease();
  }

  async put(object: ObjectToPut): Promise<void> {
    const release = await this.writableRelease();
    const empty = object.size_bytes === 0;
    const name = assetName(object.key, empty);
    const other = assetName(object.key, !empty);
    const wanted = {
      size: empty ? PLACEHOLDER.length : object.size_bytes,
      digest: empty ? PLACEHOLDER_SHA256 : object.sha256,
    };
    for (let attempt = 1; ; attempt++) {
      const assets = await this.assets(release);
      const current = assets.get(name);
      const stale = assets.get(other);
      if (stale) await this.remove(stale, assets);
      // Same name, size and digest: already there (GitHub refuses a second asset of a name).
      const same =
        current?.state === 'uploaded' && current.size === wanted.size && current.digest === wanted.digest;
      if (same) return;
      if (current) await this.remove(current, assets);
      try {
        const data = empty ? PLACEHOLDER : await readFile(object.localPath);
        const uploaded = await this.upload(release, name, data, object.content_type);
        assets.set(name, uploaded);
        await this.checkDigest(uploaded, wanted.digest, object.key, assets);
        return;
      } catch (error) {
        // Someone else uploaded that name meanwhile: look again, once.
        if (httpStatusOf(error) === 422 && attempt === 1 && /already_exists/.test(String(error))) {
          this.index = null;
          continue;
        }
        throw error instanceof StorageError ? error : this.failure('put', object.key, error);
      }
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    const found = await this.find(key, 'head');
    if (!found) return null;
    return {
      key,
      size_bytes: found.empty ? 0 : found.asset.size,
      sha256: assetDigest(found.asset, found.empty),
    };
  }

  async get(key: string, localPath: string): Promise<void> {
    const found = await this.find(key, 'get');
    if (!found) throw new StorageError(`${this.display}: get ${key}: no such asset`, { retryable: false });
    if (found.empty) {
      await writeFile(localPath, '');
      return;
    }
    await this.call('get', key, async () => {
      const response = await this.client().rest.repos.getReleaseAsset({
        ...this.repoRef,
        asset_id: found.asset.id,
        headers: { accept: 'application/octet-stream' },
        // The body streams to the file instead of being buffered whole.
        request: { parseSuccessResponseBody: false },
      });
      await pipeline(
        Readable.fromWeb(response.data as unknown as ReadableStream),
        createWriteStream(localPath),
      );
    });
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const release = await this.existingRelease('list');
    if (!release) return [];
    this.index = null;
    const out: StoredObject[] = [];
    for (const asset of (await this.assets(release)).values()) {
      const decoded = keyOfAsset(asset.name);
      if (!decoded || asset.state !== 'uploaded' || !decoded.key.startsWith(prefix)) continue;
      out.push({
        key: decoded.key,
        size_bytes: decoded.empty ? 0 : asset.size,
        sha256: assetDigest(asset, decoded.empty),
      });
    }
    return out;
  }

  async close(): Promise<void> {
    // Octokit uses Node's global fetch; there is nothing of its own to release.
    this.octokit = null;
  }

  private client(): Octokit {
    if (this.octokit) return this.octokit;
    const token = credential(this.options, this.display, 'github_token', ['GITHUB_TOKEN', 'GH_TOKEN']);
    if (token === undefined) {
      throw configError(
        this.display,
        'parameters.github_token is required (or parameters.github_token_file, or GITHUB_TOKEN / GH_TOKEN): a token that can write releases',
      );
    }
    const baseUrl = setting(this.options, 'github_api_url', ['GITHUB_API_URL']) ?? 'https://api.github.com';
    this.octokit = new Octokit({
      auth: token,
      baseUrl: baseUrl.replace(/\/+$/, ''),
      userAgent: 'infermark',
      // Octokit logs every failed request (an expected 404 included); each one reaches
      // the caller as a StorageError, so only warnings (deprecations) are printed.
      log: {
        debug: () => {},
        info: () => {},
        warn: (...args: unknown[]) => console.warn(...args),
        error: () => {},
      },
    });
    return this.octokit;
  }

  /** The asset holding `key` (as itself or as an empty placeholder), or null. */
  private async find(key: string, op: string): Promise<{ asset: Asset; empty: boolean } | null> {
    const release = await this.existingRelease(op);
    if (!release) return null;
    const assets = await this.assets(release);
    for (const empty of [false, true]) {
      const asset = assets.get(assetName(key, empty));
      if (asset?.state === 'uploaded') return { asset, empty };
    }
    return null;
  }

  /** The release, created for the URI's tag when it has none yet. */
  private writableRelease(): Promise<Release> {
    if (!this.release) {
      const pending = this.findRelease('preflight').then((found) => found ?? this.createRelease());
      this.release = pending;
      // A failure is not kept: a later call looks again.
      pending.catch(() => {
        if (this.release === pending) this.release = null;
      });
    }
    return this.release;
  }

  /** The release if it exists; reading never creates one. */
  private async existingRelease(op: string): Promise<Release | null> {
    if (this.release) return this.release;
    const found = await this.findRelease(op);
    if (found) this.release = Promise.resolve(found);
    return found;
  }

  private async findRelease(op: string): Promise<Release | null> {
    const { tag } = this.options.location;
    try {
      const response = tag
        ? await this.client().rest.repos.getReleaseByTag({ ...this.repoRef, tag })
        : await this.client().rest.repos.getLatestRelease(this.repoRef);
      return response.data;
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw this.failure(op, '', error);
    }
  }

  private async createRelease(): Promise<Release> {
    const { tag } = this.options.location;
    if (!tag) {
      throw configError(
        this.display,
        `${this.repoName} has no release yet: name a tag (github://${this.repoName}@TAG) and infermark creates its release`,
      );
    }
    try {
      const response = await this.client().rest.repos.createRelease({
        ...this.repoRef,
        tag_name: tag,
        name: tag,
        draft: false,
        body: 'Benchmark evidence uploaded by infermark.',
      });
      return response.data;
    } catch (error) {
      // Created meanwhile by another writer: use theirs.
      if (httpStatusOf(error) === 422) {
        const found = await this.findRelease('preflight');
        if (found) return found;
      }
      throw this.failure('create release', tag, error);
    }
  }

  /** The release's assets by name, listed once and kept current by this store's own writes. */
  private assets(release: Release): Promise<Map<string, Asset>> {
    if (!this.index) {
      const pending = this.client()
        .paginate(this.client().rest.repos.listReleaseAssets, {
          ...this.repoRef,
          release_id: release.id,
          per_page: 100,
        })
        .then((assets) => new Map(assets.map((asset) => [asset.name, asset as Asset])));
      this.index = pending.catch((error: unknown) => {
        if (this.index === pending) this.index = null;
        throw this.failure('list', '', error);
      });
    }
    return this.index;
  }

  private async upload(release: Release, name: string, data: Buffer, contentType: string): Promise<Asset> {
    const response = await this.client().rest.repos.uploadReleaseAsset({
      ...this.repoRef,
      // The release's own upload URL: right for github.com and GitHub Enterprise alike.
      url: release.upload_url,
      release_id: release.id,
      name,
      data: data as unknown as string,
      // No content-length: fetch sets it from the Buffer, and a second one is refused by undici.
      headers: { 'content-type': contentType },
    });
    return response.data as Asset;
  }

  /** GitHub has no Content-MD5: the digest it reports for the stored bytes is compared instead. */
  private async checkDigest(
    asset: Asset,
    wanted: string,
    key: string,
    assets: Map<string, Asset>,
  ): Promise<void> {
    if (!asset.digest || asset.digest === wanted) return;
    await this.remove(asset, assets);
    throw new StorageError(`${this.display}: put ${key}: GitHub stored ${asset.digest}, expected ${wanted}`, {
      retryable: true,
    });
  }

  private async remove(asset: Asset, assets: Map<string, Asset>): Promise<void> {
    try {
      await this.client().rest.repos.deleteReleaseAsset({ ...this.repoRef, asset_id: asset.id });
    } catch (error) {
      if (httpStatusOf(error) !== 404) throw this.failure('delete', asset.name, error);
    }
    assets.delete(asset.name);
  }

  private call<T>(op: string, key: string, action: () => Promise<T>): Promise<T> {
    return rethrowAs(action, (error) => this.failure(op, key, error));
  }

  private failure(op: string, key: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const status = httpStatusOf(error);
    if (status === 401) {
      return configError(
        this.display,
        'GitHub refused the token (401): set parameters.github_token (or GITHUB_TOKEN / GH_TOKEN) to a valid token',
      );
    }
    if (status === 403 && !isRateLimited(error)) {
      return configError(
        this.display,
        `GitHub forbade ${op} (403): the token needs contents: write on ${this.repoName}`,
      );
    }
    const what = key ? `${op} ${key}` : op;
    const retryable = isRateLimited(error) || isRetryable(error);
    return new StorageError(`${this.display}: ${what}: ${describeError(error)}`, {
      retryable,
      kind: permanentKindOf(error),
    });
  }
}

/** The digest GitHub reports for an asset, as the object's: an empty object's placeholder stands for no bytes. */
function assetDigest(asset: Asset, empty: boolean): string | null {
  if (empty) return asset.digest === PLACEHOLDER_SHA256 ? EMPTY_SHA256 : null;
  return digestOf(asset.digest);
}

function isRateLimited(error: unknown): boolean {
  const headers = (error as { response?: { headers?: Record<string, string | undefined> } }).response
    ?.headers;
  return headers?.['x-ratelimit-remaining'] === '0' || headers?.['retry-after'] !== undefined;
}
