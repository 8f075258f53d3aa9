/**
 * A shared test case for the object stores that run on a loopback fake (GCS, OCI):
 * a real run against the simulator uploads to its `outputLocation`; the server
 * then holds one object per file with the manifest's bytes and sha256;
 * `infermark download` reads it back complete and byte-identical; one byte changed
 * in the store makes `downloadRun` name that file as changed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, runFolderUnder, writeJobYaml } from './harness.js';
import { listFiles, type RunManifest } from '../../evidence/manifest.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { downloadRun } from '../../storage/upload.js';

/** A run against the simulator whose results go to `storageUri`. */
export interface UploadCase {
  /** Job name and file prefix, e.g. `to-gs`. */
  name: string;
  storageUri: string;
  /** `outputLocation.parameters` of the job, also passed to `download` as `--param`. */
  params: Record<string, string>;
  simUrl: string;
  tmp: string;
  /** More arguments for `infermark run`. */
  runArgs?: string[];
}

export interface RoundTripCase<T extends { data: Buffer }> extends UploadCase {
  /** The fake's objects in the bucket the URI names, by object name. */
  objects: () => Map<string, T>;
  /** The sha256 the store kept as the object's metadata. */
  storedSha256: (object: T) => string | undefined;
  openStore: () => Promise<ObjectStore>;
}

interface Printed {
  run_id: string;
  artifact_manifest_digest: string;
  upload: { uploaded: number; skipped: number; objects: number; prefix: string };
}

/** The job file of an upload case: a small run whose results go to `storageUri`. */
export function writeUploadJob(c: Omit<UploadCase, 'runArgs'>): Promise<string> {
  const entries = Object.entries(c.params).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`);
  return writeJobYaml(join(c.tmp, `${c.name}.yaml`), {
    name: c.name,
    url: c.simUrl,
    scenarios: ['D(16,6)'],
    concurrency: [1, 2],
    maxRequestsPerIteration: 5,
    spec: [
      'resultFolderName: nightly',
      'outputLocation:',
      `  storageUri: '${c.storageUri}'`,
      ...(entries.length > 0 ? ['  parameters:', ...entries] : ['  parameters: {}']),
    ],
  });
}

/** Runs the job with the CLI, downloads what it uploaded, and checks both folders match byte for byte. */
export async function runUploadAndReadBack(
  c: UploadCase,
): Promise<{ printed: Printed; runDir: string; files: string[] }> {
  const job = await writeUploadJob(c);
  const out = join(c.tmp, `${c.name}-runs`);
  const result = await cli(['run', job, '--out', out, '--quiet', '--json', ...(c.runArgs ?? [])]);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as Printed;
  assert.equal(printed.upload.prefix, `nightly/${printed.run_id}`);
  assert.equal(printed.upload.uploaded, printed.upload.objects);
  const runDir = await runFolderUnder(out);
  const files = await listFiles(runDir);
  assert.ok(
    files.some((f) => f.startsWith('iterations/001/')),
    files.join(', '),
  );

  const back = join(c.tmp, `${c.name}-back`);
  const download = await cli([
    'download',
    c.storageUri,
    printed.upload.prefix,
    back,
    '--json',
    ...Object.entries(c.params).flatMap(([key, value]) => ['--param', `${key}=${value}`]),
  ]);
  assert.equal(download.code, 0, download.stdout + download.stderr);
  const report = JSON.parse(download.stdout) as { status: string; artifact_manifest_digest: string };
  assert.equal(report.status, 'complete');
  assert.equal(report.artifact_manifest_digest, printed.artifact_manifest_digest);
  assert.deepEqual(await listFiles(back), files);
  for (const file of files) {
    assert.deepEqual(await readFile(join(back, file)), await readFile(join(runDir, file)), file);
  }
  return { printed, runDir, files };
}

/** The round trip, then what the server holds and an object altered in the store; returns what `run --json` printed. */
export async function runUploadDownloadAlter<T extends { data: Buffer }>(
  c: RoundTripCase<T>,
): Promise<Printed> {
  const { printed, runDir, files } = await runUploadAndReadBack({ ...c, runArgs: ['--no-warehouse'] });

  // What the server holds: one object per file, each with the bytes and the sha256 of the run's manifest.
  const base = `${new URL(c.storageUri).pathname.split('/').pop()}/${printed.upload.prefix}/`;
  const stored = [...c.objects().keys()].filter((name) => name.startsWith(base));
  assert.deepEqual(stored.map((name) => name.slice(base.length)).sort(), files);
  const manifest = JSON.parse(await readFile(join(runDir, 'manifest.json'), 'utf8')) as RunManifest;
  assert.equal(manifest.artifacts.length + 2, files.length);
  for (const artifact of manifest.artifacts) {
    const object = c.objects().get(base + artifact.path);
    assert.ok(object, artifact.path);
    const digest = `sha256:${createHash('sha256').update(object.data).digest('hex')}`;
    assert.equal(digest, artifact.sha256, `stored bytes of ${artifact.path}`);
    assert.equal(c.storedSha256(object), artifact.sha256, `sha256 metadata of ${artifact.path}`);
  }

  // One byte changed in the store (the fakes hash what they hold, so the client's own MD5/CRC checks pass).
  const altered = 'iterations/000/requests.jsonl';
  const object = c.objects().get(base + altered);
  assert.ok(object && object.data.length > 0, altered);
  const bytes = Buffer.from(object.data);
  bytes[1] = (bytes[1] as number) ^ 0x01;
  object.data = bytes;
  const store = await c.openStore();
  try {
    const again = await downloadRun(store, printed.upload.prefix, join(c.tmp, `${c.name}-altered`));
    assert.equal(again.status, 'corrupt');
    assert.ok(
      again.problems.some((p) => p.path === altered && /^changed/.test(p.problem)),
      JSON.stringify(again.problems),
    );
  } finally {
    await store.close();
  }
  return printed;
}
