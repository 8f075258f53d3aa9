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
