/**
 * Storage schemes by name: a typed map from scheme to a lazy import of its module,
 * so an SDK is loaded only when its scheme is used and adding a scheme is one file
 * plus one line here.
 */
import type { StorageLocation, StorageScheme } from '../spec/storage-uri.js';
import type { ObjectStore, StoreFactory, StoreOptions } from './object-store.js';

type Loader<S extends StorageScheme> = () => Promise<StoreFactory<Extract<StorageLocation, { scheme: S }>>>;

const loaders: { [S in StorageScheme]: Loader<S> } = {
  file: async () => (await import('./file.js')).createStore,
  pvc: async () => (await import('./file.js')).createStore,
  s3: async () => (await import('./s3.js')).createStore,
  az: async () => (await import('./az.js')).createStore,
  gs: async () => (await import('./gs.js')).createStore,
  oci: async () => (await import('./oci.js')).createStore,
  github: async () => (await import('./github.js')).createStore,
};

/** The store for a parsed location; the scheme's SDK is imported here, on first use. */
export async function openStore(options: StoreOptions): Promise<ObjectStore> {
  const load = loaders[options.location.scheme] as Loader<StorageScheme>;
  const factory = (await load()) as StoreFactory;
  return factory(options);
}
