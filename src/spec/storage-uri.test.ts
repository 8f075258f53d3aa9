import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStorageUri, parseStorageUri, type StorageLocation } from './storage-uri.js';

// Every storage URI in ../shared/seeds/benchmarkjob.md (examples and the format table).
const SEED_EXAMPLES: [string, StorageLocation][] = [
  [
    'oci://n/idqj093njucb/b/ome-benchmark-results/o/llama-3-1-70b-benchmark',
    {
      scheme: 'oci',
      namespace: 'idqj093njucb',
      bucket: 'ome-benchmark-results',
      prefix: 'llama-3-1-70b-benchmark',
    },
  ],
  [
    's3://my-benchmarks@us-east-1/experiments/2024',
    { scheme: 's3', bucket: 'my-benchmarks', region: 'us-east-1', prefix: 'experiments/2024' },
  ],
  [
    'oci://n/my-namespace/b/my-bucket/o/benchmark-results',
    { scheme: 'oci', namespace: 'my-namespace', bucket: 'my-bucket', prefix: 'benchmark-results' },
  ],
  [
    's3://my-bucket/path/to/results',
    { scheme: 's3', bucket: 'my-bucket', region: null, prefix: 'path/to/results' },
  ],
  [
    's3://my-bucket@us-west-2/path/to/results',
    { scheme: 's3', bucket: 'my-bucket', region: 'us-west-2', prefix: 'path/to/results' },
  ],
  [
    'az://myaccount/mycontainer/path/to/results',
    { scheme: 'az', account: 'myaccount', container: 'mycontainer', prefix: 'path/to/results' },
  ],
  [
    'az://myaccount.blob.core.windows.net/mycontainer/path/to/results',
    { scheme: 'az', account: 'myaccount', container: 'mycontainer', prefix: 'path/to/results' },
  ],
  ['gs://my-bucket/path/to/results', { scheme: 'gs', bucket: 'my-bucket', prefix: 'path/to/results' }],
  ['github://owner/repo@v1.0.0', { scheme: 'github', owner: 'owner', repo: 'repo', tag: 'v1.0.0' }],
  ['pvc://my-pvc/results', { scheme: 'pvc', namespace: null, claim: 'my-pvc', path: 'results' }],
  [
    'oci://n/myns/b/mybucket/o/results',
    { scheme: 'oci', namespace: 'myns', bucket: 'mybucket', prefix: 'results' },
  ],
  [
    's3://mybucket@us-west-2/results',
    { scheme: 's3', bucket: 'mybucket', region: 'us-west-2', prefix: 'results' },
  ],
  [
    'az://myaccount/mycontainer/results',
    { scheme: 'az', account: 'myaccount', container: 'mycontainer', prefix: 'results' },
  ],
  ['gs://mybucket/results', { scheme: 'gs', bucket: 'mybucket', prefix: 'results' }],
  ['github://myorg/myrepo@v1.0.0', { scheme: 'github', owner: 'myorg', repo: 'myrepo', tag: 'v1.0.0' }],
  ['pvc://default:my-pvc/results', { scheme: 'pvc', namespace: 'default', claim: 'my-pvc', path: 'results' }],
];

test('every storage URI in the seed parses to its parts', () => {
  for (const [uri, expected] of SEED_EXAMPLES) {
    const parsed = parseStorageUri(uri);
    assert.ok(parsed.ok, `${uri}: ${parsed.ok ? '' : parsed.message}`);
    assert.deepEqual(parsed.location, expected, uri);
  }
});

test('canonical URIs print back to themselves; the Azure host form prints as the short form', () => {
  for (const [uri, location] of SEED_EXAMPLES) {
    const printed = formatStorageUri(location);
    if (uri.includes('.blob.core.windows.net'))
      assert.equal(printed, 'az://myaccount/mycontainer/path/to/results');
    else assert.equal(printed, uri);
  }
});

test('github without a tag means the latest release; plain paths and file:// are local folders', () => {
  assert.deepEqual(parseStorageUri('github://owner/repo'), {
    ok: true,
    location: { scheme: 'github', owner: 'owner', repo: 'repo', tag: null },
  });
  assert.deepEqual(parseStorageUri('./results'), {
    ok: true,
    location: { scheme: 'file', path: './results' },
  });
  assert.deepEqual(parseStorageUri('file:///srv/results'), {
    ok: true,
    location: { scheme: 'file', path: '/srv/results' },
  });
  assert.deepEqual(parseStorageUri('s3://bucket'), {
    ok: true,
    location: { scheme: 's3', bucket: 'bucket', region: null, prefix: '' },
  });
});

test('malformed URIs are refused with what was expected', () => {
  const bad: [string, RegExp][] = [
    ['', /expected a storage URI/],
    ['ftp://host/path', /unknown storage scheme "ftp:\/\/"/],
    ['s3://', /bucket name/],
    ['s3://bucket@/x', /region/],
    ['s3://bucket@US_EAST/x', /region/],
    ['az://myaccount', /container/],
    ['az://MyAccount/c/x', /account/],
    ['gs:///path', /bucket name/],
    ['oci://ns/bucket/path', /oci:\/\/n\/\{namespace\}\/b\/\{bucket\}\/o\/\{path\}/],
    ['oci://n/ns/b/bucket/x/path', /oci:\/\/n\//],
    ['github://owner', /github:\/\/owner\/repo/],
    ['github://owner/repo/extra', /no folders/],
    ['github://owner/repo@', /tag/],
    ['pvc://:claim/x', /pvc:\/\//],
    ['pvc:///x', /claim/],
    ['s3://bucket/a/../b', /"\.\."/],
    ['az://acct123/container/x?sv=2020&sig=abc', /parameters/],
    ['file://relative/path', /absolute/],
  ];
  for (const [uri, message] of bad) {
    const parsed = parseStorageUri(uri);
    assert.equal(parsed.ok, false, uri);
    if (!parsed.ok) assert.match(parsed.message, message, uri);
  }
});

test('near misses of a scheme are refused with the URI that was probably meant, not taken as a local folder', () => {
  const cases: [string, string][] = [
    ['s3:/bucket/x', 's3://bucket/x'],
    ['S3:/bucket/x', 's3://bucket/x'],
    ['s3:bucket/x', 's3://bucket/x'],
    ['s3:///bucket/x', 's3://bucket/x'],
    ['S3://bucket/x', 's3://bucket/x'],
    ['Gs://bucket/x', 'gs://bucket/x'],
    ['gs:/bucket', 'gs://bucket'],
    ['az:/account/container/x', 'az://account/container/x'],
    ['oci:/n/ns/b/bucket/o/x', 'oci://n/ns/b/bucket/o/x'],
    ['github:owner/repo', 'github://owner/repo'],
    ['PVC:/claim/x', 'pvc://claim/x'],
    ['file:/srv/runs', 'file:///srv/runs'],
  ];
  for (const [uri, meant] of cases) {
    const parsed = parseStorageUri(uri);
    assert.equal(parsed.ok, false, uri);
    if (!parsed.ok)
      assert.ok(parsed.message.includes(`did you mean "${meant}"?`), `${uri}: ${parsed.message}`);
  }
});

test('a relative path whose first part looks like a scheme is refused; ./ says a local folder is meant', () => {
  for (const uri of [
    'results:2024/x',
    'http:/host/x',
    'x/s3://bucket/y',
    '\u202es3://bucket/x',
    's3://buck\u200bet/x',
    's3://bucket/x\ud800',
    's3://bucket/\nx',
  ]) {
    assert.equal(parseStorageUri(uri).ok, false, uri);
  }
  const refused = parseStorageUri('results:2024/x');
  assert.ok(!refused.ok && refused.message.includes('write ./results:2024/x for a local folder'));
  for (const uri of ['./results:2024/x', 'runs/a:b', '/srv/a:b', 'C:\\runs', 'results']) {
    const parsed = parseStorageUri(uri);
    assert.ok(parsed.ok && parsed.location.scheme === 'file', uri);
  }
});

test("bucket and container names follow each service's rules, and the error states the rule", () => {
  const good = [
    's3://abc/x',
    `s3://${'a'.repeat(63)}`,
    's3://my.bucket-1',
    'gs://my_bucket',
    `gs://${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}`,
    'az://account1/abc',
    'az://account1/$web',
    'oci://n/ns/b/My_Bucket.1/o/x',
    `oci://n/ns/b/${'B'.repeat(256)}/o/x`,
  ];
  for (const uri of good) assert.ok(parseStorageUri(uri).ok, uri);
  const bad: [string, RegExp][] = [
    ['s3://ab/x', /S3 bucket name "ab" is not valid: S3 bucket names are 3-63 characters/],
    [`s3://${'a'.repeat(64)}/x`, /S3 bucket names are 3-63/],
    ['s3://My-Bucket/x', /lowercase/],
    ['s3://my_bucket/x', /S3 bucket names/],
    ['s3://-bucket/x', /starting and ending with a letter or digit/],
    ['s3://bucket-/x', /S3 bucket names/],
    ['s3://my..bucket/x', /no "\.\."/],
    ['s3://192.168.1.1/x', /not an IP address/],
    ['gs://ab/x', /Cloud Storage bucket names are 3-63 characters \(up to 222 with dots/],
    [`gs://${'a'.repeat(64)}`, /Cloud Storage bucket names/],
    [`gs://${'a'.repeat(64)}.b`, /63 between dots/],
    ['gs://Bucket', /Cloud Storage bucket names/],
    ['az://account1/ab/x', /Azure container names are 3-63 characters/],
    ['az://account1/a--b/x', /single hyphens/],
    ['az://account1/abc-/x', /Azure container names/],
    ['az://account1/ABC/x', /Azure container names/],
    [`oci://n/ns/b/${'b'.repeat(257)}/o/x`, /OCI bucket names are 1-256 characters/],
    ['oci://n/ns/b/bad$name/o/x', /OCI bucket names/],
  ];
  for (const [uri, message] of bad) {
    const parsed = parseStorageUri(uri);
    assert.equal(parsed.ok, false, uri);
    if (!parsed.ok) assert.match(parsed.message, message, uri);
  }
  // A long name is quoted by its start only.
  const long = parseStorageUri(`s3://${'a'.repeat(5000)}/x`);
  assert.ok(!long.ok && long.message.length < 400, long.ok ? '' : long.message);
});
