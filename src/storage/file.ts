/**
 * A local folder as a store: plain paths and `file://` URIs, and `pvc://` claims,
 * which inside a pod are folders where the claim is mounted. The mount point is
 * `parameters.mount_path`, else `$INFERMARK_PVC_ROOT/<claim>` (default
 * `/mnt/pvc/<claim>`); the controller mounts claims there. The mount folder must
 * exist: a claim that is not mounted would otherwise become a folder on the pod's
 * ephemeral disk, and the results would vanish with the pod. Writes go to a temp
 * file and are renamed into place, so a reader never sees half an object.
 */
import { access, constants, copyFile, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { digestFile } from '../base/digest.js';
import { isTempFile } from '../evidence/manifest.js';
import { formatStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import type { ObjectStore, ObjectToPut, StoredObject, StoreOptions } from './object-store.js';
import { configError } from './storage-error.js';

type FileLocation = Extract<StorageLocation, { scheme: 'file' | 'pvc' }>;

const DEFAULT_PVC_ROOT = '/mnt/pvc';

export async function createStore(options: StoreOptions<FileLocation>): Promise<ObjectStore> {
  return new FileStore(rootOf(options), formatStorageUri(options.location), mountOf(options));
}

/** The local folder a file or pvc location stands for. */
export function rootOf(options: StoreOptions<FileLocation>): string {
  const { location } = options;
  if (location.scheme === 'file') return resolve(location.path);
  return resolve((mountOf(options) as PvcMount).path, location.path);
}

/** Where a pvc claim must be mounted, and how the user named that place (for the error). */
interface PvcMount {
  path: string;
  setBy: string;
}

/** The mount a pvc location needs; null for a plain folder, which is created on demand. */
function mountOf(options: StoreOptions<FileLocation>): PvcMount | null {
  const { location } = options;
  if (location.scheme !== 'pvc') return null;
  if (options.parameters.mount_path !== undefined) {
    return { path: resolve(options.parameters.mount_path), setBy: 'parameters.mount_path' };
  }
  const root = options.env.INFERMARK_PVC_ROOT;
  return {
    path: resolve(root ?? DEFAULT_PVC_ROOT, location.claim),
    setBy: root === undefined ? `the default root ${DEFAULT_PVC_ROOT}` : 'INFERMARK_PVC_ROOT',
  };
}

class FileStore implements ObjectStore {
  private mounted: Promise<void> | null = null;

  constructor(
    private readonly root: string,
    readonly display: string,
    private readonly mount: PvcMount | null,
  ) {}

  async preflight(): Promise<void> {
    await this.ensureMounted();
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw configError(this.display, `folder ${this.root} is not writable (${code})`);
    }
  }

  async put(object: ObjectToPut): Promise<void> {
    await this.ensureMounted();
    const target = this.pathOf(object.key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.tmp-${process.pid}`;
    await copyFile(object.localPath, temp);
    await rename(temp, target);
  }

  async head(key: string): Promise<StoredObject | null> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) return null;
      // A folder keeps no metadata: the digest is read from the bytes themselves.
      return { key, size_bytes: info.size, sha256: (await digestFile(path)).sha256 };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async get(key: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    await copyFile(this.pathOf(key), localPath);
  }

  async list(prefix: string): Promise<StoredObject[]> {
    // An unmounted claim would list as empty, as if no run were stored there.
    await this.ensureMounted();
    const out: StoredObject[] = [];
    await this.walk(this.root, prefix, out);
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async close(): Promise<void> {}

  private async walk(dir: string, prefix: string, out: StoredObject[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        // Only descend where the prefix can still match.
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.walk(path, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix) && !isTempFile(key)) {
        out.push({ key, size_bytes: (await stat(path)).size, sha256: null });
      }
    }
  }

  /** A pvc store writes only into a mounted claim: its mount folder must already be there. */
  private ensureMounted(): Promise<void> {
    const mount = this.mount;
    if (mount === null) return Promise.resolve();
    this.mounted ??= stat(mount.path).then(
      (info) => {
        if (!info.isDirectory()) throw this.notMounted(mount, 'it is not a folder');
      },
      (error: unknown) => {
        throw this.notMounted(mount, (error as NodeJS.ErrnoException).code ?? 'error');
      },
    );
    return this.mounted;
  }

  private notMounted(mount: PvcMount, reason: string): Error {
    return configError(
      this.display,
      `no volume is mounted at ${mount.path} (${reason}; the folder comes from ${mount.setBy}): mount the claim there, or set outputLocation.parameters.mount_path to where it is mounted (or INFERMARK_PVC_ROOT to the folder that holds one subfolder per claim)`,
    );
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw configError(this.display, `key ${key} leaves the folder`);
    return path;
  }
}
