/**
 * No secret leaves a run: real runs by the built CLI against the simulator, each
 * with distinctive secrets planted in the job, the environment and URLs (API keys,
 * URL userinfo and query tokens, AWS keys, an Azure connection string and SAS
 * token, GitHub tokens, a secret-named request parameter), uploading to s3rver,
 * azurite and a loopback GitHub. Then every byte the runs wrote is read: the run
 * folders, everything each command printed (progress, errors, `--debug` stacks),
 * the uploaded objects, the stores' own data folders and every row of the warehouses
 * the runs were ingested into; no planted value occurs, as itself, URL-encoded or
 * base64-encoded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { cli, runFolderUnder, type CliResult } from '../cli/testing/harness.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { startAzurite, type AzuriteHandle } from '../storage/testing/azurite.js';
import { startFakeGithub, type FakeGithub } from '../storage/testing/fake-github.js';
import { startS3rver, type S3rverHandle } from '../storage/testing/s3rver.js';

/** The planted values; each is distinctive, so any occurrence anywhere is a leak. */
const PLANTED = {
  apiKeyEnv: 'sk-PLANTEDapikeyEnv0123456789',
  // Not shaped like any known key: only its registration can keep it out.
  apiKeyFile: 'PLANTEDapikeyFile-0123456789abcdef',
  openaiKeyEnv: 'PLANTEDopenaiKeyEnv0123456789',
  urlPassword: 'PLANTEDpass123',
  queryToken: 'PLANTEDquerytoken',
  metricsPassword: 'PLANTEDmetricsPass456',
  requestParamKey: 'PLANTEDrequestParamKey0123',
  awsSecretParam: 'PLANTEDsecretAccessKeyParam0123456789',
  awsSessionToken: 'PLANTEDsessionToken0123456789',
  awsSecretEnv: 'PLANTEDsecretAccessKeyEnv0123456789',
  awsSecretUpload: 'PLANTEDsecretAccessKeyUpload0123456789',
  awsSecretWrong: 'PLANTEDsecretAccessKeyWrong0123456789',
  githubParam: 'ghp_PLANTEDparamToken0123456789abcdef',
  // Not ghp_-shaped: only its registration can keep it out.
  githubEnv: 'PLANTEDgithubEnvToken0123456789',
  githubWrong: 'ghp_PLANTEDwrongToken0123456789abcdef',
  azureWrongKey: Buffer.from('PLANTEDwrongAzureAccountKey0123456789').toString('base64'),
  // In AZURE_STORAGE_CONNECTION_STRING, as AccountKey=: refused by azurite, so it reaches an error message.
  azureEnvWrongKey: Buffer.from('PLANTEDwrongAzureEnvAccountKey0123456789').toString('base64'),
  // In the endpoint URL's query, as an Azure OpenAI-style `api-key` and a `sig`.
  endpointQueryKey: 'PLANTEDendpointQueryApiKey0123',
  endpointQuerySig: 'PLANTEDendpointQuerySig0123',
  // An Azure Functions-style `?code=`: a name no secret pattern knows.
  endpointQueryCode: 'PLANTEDendpointQueryCode0123456789',
  // Literal `Bearer <token>` values: in a header field the spec does not have, and in request parameters.
  bearerHeader: 'PLANTEDbearerHeaderToken0123456789',
  bearerParam: 'PLANTEDbearerParamToken0123456789',
  bearerPlainParam: 'PLANTEDbearerPlainParamToken0123456789',
} as const;

let sim: SpawnedSimulator;
let s3: S3rverHandle;
let azurite: AzuriteHandle;
let github: FakeGithub;
let githubEnv: FakeGithub;
let echo: Server;
let echoUrl: string;
let tmp: string;
/** Job files and key files: the inputs, which hold the secrets on purpose. */
let inputs: string;
/** Everything the runs wrote (run folders, downloads). */
let outputs: string;
/** SAS tokens for azurite's account and their signatures (the secret part): full, and read and list only. */
let sas: { token: string; signature: string };
let readOnlySas: { token: string; signature: string };

/** Every value that must not appear: the planted ones, azurite's account key, the SAS signatures. */
function secrets(): string[] {
  return [...Object.values(PLANTED), azurite.key, sas.signature, readOnlySas.signature];
}

/** A secret as itself, URL-encoded and base64-encoded (an Authorization: Basic header). */
function forms(secret: string): string[] {
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('base64url'),
    ]),
  ];
}

/** Every form of every secret, plus URL userinfo as Basic auth would carry it. */
function needles(): string[] {
  return [
    ...secrets().flatMap(forms),
    Buffer.from(`planteduser:${PLANTED.urlPassword}`).toString('base64'),
    Buffer.from(`metricsuser:${PLANTED.metricsPassword}`).toString('base64'),
  ];
}

/** Where each needle occurs in `bytes` (named `where`), as messages. */
function leaksIn(where: string, bytes: Buffer): string[] {
  const found: string[] = [];
  for (const needle of needles()) {
    const at = bytes.indexOf(needle);
    if (at >= 0) {
      const context = bytes.subarray(Math.max(0, at - 80), at + needle.length + 40).toString('utf8');
      found.push(`${where}: ${JSON.stringify(needle)} in …${context}…`);
    }
  }
  return found;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Reads every file under `dirs` and every printed text: each occurrence found, and how many files were read. */
async function leaksUnder(
  dirs: string[],
  printed: Array<[string, string]>,
): Promise<{ found: string[]; files: number }> {
  const found: string[] = [];
  let files = 0;
  for (const dir of dirs) {
    for (const file of await filesUnder(dir)) {
      files += 1;
      const bytes = await readFile(file);
      // Telemetry scrapes are kept gzip-compressed: a secret inside would not show in their bytes.
      found.push(...leaksIn(file, file.endsWith('.gz') ? gunzipSync(bytes) : bytes));
    }
  }
  for (const [where, text] of printed) found.push(...leaksIn(where, Buffer.from(text, 'utf8')));
  return { found, files };
}

/** Fails listing each leak; returns how many files were read. */
async function assertNoLeak(dirs: string[], printed: Array<[string, string]>): Promise<number> {
  const { found, files } = await leaksUnder(dirs, printed);
  assert.deepEqual(found, []);
  return files;
}

/** Everything the CLI printed, by invocation. */
const printed: Array<[string, string]> = [];

/** The environment without the host's own credentials (they would change what is read). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(AWS_|AZURE_|GITHUB_|GH_|INFERMARK_|OPENAI_)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs the CLI and keeps what it printed for the scan. */
async function run(label: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  // A warehouse per command: runs at once would wait on one file's lock. Under outputs/, so it is read too.
  const warehouse = join(outputs, 'warehouses', `${label}.duckdb`);
  const result = await cli(args, {
    env: cleanEnv({ INFERMARK_WAREHOUSE: warehouse, ...env }),
    timeoutMs: 30_000,
  });
  printed.push([`${label} (stdout)`, result.stdout], [`${label} (stderr)`, result.stderr]);
  return result;
}

interface JobOptions {
  url?: string;
  spec?: Record<string, unknown>;
  outputLocation?: { storageUri: string; parameters: Record<string, string> };
}

/** Writes a tiny job (one scenario, concurrency 1, 3 requests) and returns its path. */
async function jobFile(name: string, options: JobOptions = {}): Promise<string> {
  const job = {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: { name },
    spec: {
      endpoint: {
        endpoint: {
          url: options.url ?? `${sim.url}/v1/chat/completions`,
          apiFormat: 'openai',
          modelName: 'm',
        },
      },
      task: 'text-to-text',
      trafficScenarios: ['D(16,6)'],
      numConcurrency: [1],
      maxTimePerIteration: 1,
      maxRequestsPerIteration: 3,
      resultFolderName: 'nightly',
      ...options.spec,
      ...(options.outputLocation ? { outputLocation: options.outputLocation } : {}),
    },
  };
  const path = join(inputs, `${name}.yaml`);
  // JSON is YAML.
  await writeFile(path, JSON.stringify(job, null, 2));
  return path;
}

/** Runs a job with the CLI into its own folder under `outputs`; returns the result and the folder. */
async function runJob(
  name: string,
  options: JobOptions,
  env: Record<string, string> = {},
  flags: string[] = [],
): Promise<{ result: CliResult; out: string }> {
  const out = join(outputs, name);
  const result = await run(name, ['run', await jobFile(name, options), '--out', out, ...flags], env);
  return { result, out };
}

function s3Location(
  prefix: string,
  parameters: Record<string, string>,
): { storageUri: string; parameters: Record<string, string> } {
  return {
    storageUri: `s3://${s3.bucket}@us-east-1/${prefix}`,
    parameters: { aws_endpoint_url: s3.endpoint, ...parameters },
  };
}

/** The uploaded bytes of every asset in a fake GitHub, as files the scan reads. */
async function dumpAssets(fake: FakeGithub, owner: string, repo: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const release of fake.releases(owner, repo)) {
    for (const asset of release.assets)
      await writeFile(join(dir, `${release.tag}-${asset.name}`), asset.data);
  }
}

before(async () => {
  [sim, s3, azurite, github, githubEnv] = await Promise.all([
    // Model `m`, the one the runs name: `run` checks it at /v1/models first.
    spawnSimulator({
      model: 'm',
      ttftMs: 5,
      ttftPerInputTokenMs: 0,
      itlMs: 1,
      itlJitterMs: 0,
      batchSlowdown: 0,
    }),
    startS3rver(),
    startAzurite(),
    startFakeGithub({ token: PLANTED.githubParam, repos: [{ owner: 'acme', repo: 'bench' }] }),
    startFakeGithub({ token: PLANTED.githubEnv, repos: [{ owner: 'acme', repo: 'bench' }] }),
  ]);
  // A server that answers every request 401, quoting the credentials and the body it got back
  // (as some proxies and servers do): what it says is written into the records.
  echo = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(request || '{}') as { api_key?: string; authorization?: string; note?: string };
      // The quoted secrets come first: error messages are clipped in the records.
      const message = `invalid credentials: authorization=${req.headers.authorization ?? ''}; "api_key":"${body.api_key ?? ''}"; "authorization":"${body.authorization ?? ''}"; "note":"${body.note ?? ''}"; url=${req.url ?? ''}; request=${request}`;
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message } }));
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;

  const credential = new StorageSharedKeyCredential(azurite.account, azurite.key);
  await new BlobServiceClient(azurite.blobEndpoint, credential).getContainerClient('runs').create();
  const accountSas = (permissions: string): { token: string; signature: string } => {
    const parameters = generateAccountSASQueryParameters(
      {
        permissions: AccountSASPermissions.parse(permissions),
        services: AccountSASServices.parse('b').toString(),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        protocol: SASProtocol.HttpsAndHttp,
        expiresOn: new Date(Date.now() + 3_600_000),
      },
      credential,
    );
    return { token: parameters.toString(), signature: parameters.signature };
  };
  sas = accountSas('rwdlacup');
  readOnlySas = accountSas('rl');
  assert.match(sas.token, /sig=/);

  tmp = await mkdtemp(join(tmpdir(), 'infermark-secrets-'));
  inputs = join(tmp, 'inputs');
  outputs = join(tmp, 'outputs');
  await mkdir(inputs, { recursive: true });
  await mkdir(join(outputs, 'warehouses'), { recursive: true });
});

after(async () => {
  await Promise.all([
    sim?.close(),
    s3?.dispose(),
    azurite?.dispose(),
    github?.stop(),
    githubEnv?.stop(),
    echo &&
      new Promise<void>((resolve) => {
        echo.closeAllConnections();
        echo.close(() => resolve());
      }),
  ]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('API keys (env and file), a query token, metrics userinfo and a secret request parameter reach nothing written; s3 keys (parameters and env) neither', async () => {
  const keyFile = join(inputs, 'api-key');
  await writeFile(keyFile, `${PLANTED.apiKeyFile}\n`);
  const [fromEnv, fromFile] = await Promise.all([
    runJob(
      'api-key-env',
      {
        spec: {
          metricsUrl: `${sim.url}/metrics?token=${PLANTED.queryToken}`,
          additionalRequestParams: { api_key: PLANTED.requestParamKey, temperature: '0' },
        },
        outputLocation: s3Location('env-key', {
          aws_access_key_id: s3.accessKeyId,
          aws_secret_access_key: PLANTED.awsSecretParam,
          aws_session_token: PLANTED.awsSessionToken,
        }),
      },
      { INFERMARK_API_KEY: PLANTED.apiKeyEnv },
    ),
    runJob(
      'api-key-file',
      {
        spec: {
          apiKey: { file: keyFile },
          metricsUrl: `http://metricsuser:${PLANTED.metricsPassword}@127.0.0.1:${sim.port}/metrics`,
        },
        outputLocation: s3Location('file-key', {}),
      },
      { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: PLANTED.awsSecretEnv },
      ['--json'],
    ),
  ]);
  for (const { result } of [fromEnv, fromFile]) assert.equal(result.code, 0, result.stderr);
  // The runs happened with those credentials: requests completed, objects were uploaded.
  const reported = JSON.parse(fromFile.result.stdout) as {
    run_id: string;
    upload: { uploaded: number; objects: number };
  };
  assert.ok(reported.upload.uploaded > 0 && reported.upload.uploaded === reported.upload.objects);
  const runJson = JSON.parse(await readFile(join(await runFolderUnder(fromEnv.out), 'run.json'), 'utf8')) as {
    job: { spec: { additionalRequestParams: Record<string, string>; metricsUrl: string } };
  };
  // A secret-named request parameter is redacted in run.json; the others are kept as written.
  assert.deepEqual(runJson.job.spec.additionalRequestParams, { api_key: '[redacted]', temperature: '0' });
  assert.doesNotMatch(runJson.job.spec.metricsUrl, /PLANTED/);

  const download = await run('download s3', [
    'download',
    `s3://${s3.bucket}@us-east-1/file-key`,
    `nightly/${reported.run_id}`,
    join(outputs, 'file-key-back'),
    '--param',
    `aws_endpoint_url=${s3.endpoint}`,
    '--param',
    `aws_access_key_id=${s3.accessKeyId}`,
    '--param',
    `aws_secret_access_key=${PLANTED.awsSecretUpload}`,
  ]);
  assert.equal(download.code, 0, download.stdout + download.stderr);
  await assertNoLeak([fromEnv.out, fromFile.out, join(outputs, 'file-key-back'), s3.directory], printed);
});

test('Azure: a connection string with AccountKey and a SAS token reach nothing written', async () => {
  const [connection, sasRun] = await Promise.all([
    runJob('az-connection-string', {
      outputLocation: {
        storageUri: `az://${azurite.account}/runs/connection`,
        parameters: { azure_connection_string: azurite.connectionString() },
      },
    }),
    runJob(
      'az-sas',
      {
        outputLocation: {
          storageUri: `az://${azurite.account}/runs/sas`,
          parameters: { azure_blob_endpoint: azurite.blobEndpoint, azure_sas_token: `?${sas.token}` },
        },
      },
      { OPENAI_API_KEY: PLANTED.openaiKeyEnv },
      ['--json'],
    ),
  ]);
  for (const { result } of [connection, sasRun]) assert.equal(result.code, 0, result.stderr);
  const { run_id } = JSON.parse(sasRun.result.stdout) as { run_id: string };
  const back = join(outputs, 'az-sas-back');
  const download = await run('download az', [
    'download',
    `az://${azurite.account}/runs/sas`,
    `nightly/${run_id}`,
    back,
    '--param',
    `azure_blob_endpoint=${azurite.blobEndpoint}`,
    '--param',
    `azure_sas_token=${sas.token}`,
  ]);
  assert.equal(download.code, 0, download.stdout + download.stderr);
  await assertNoLeak([connection.out, sasRun.out, back, azurite.directory], printed);
});

test('GitHub: a token in parameters and in GITHUB_TOKEN reaches nothing written', async () => {
  const [param, env] = await Promise.all([
    runJob('github-param', {
      outputLocation: {
        storageUri: 'github://acme/bench@v1',
        parameters: { github_api_url: github.url, github_token: PLANTED.githubParam },
      },
    }),
    runJob(
      'github-env',
      {
        outputLocation: {
          storageUri: 'github://acme/bench@v1',
          parameters: { github_api_url: githubEnv.url },
        },
      },
      { GITHUB_TOKEN: PLANTED.githubEnv },
    ),
  ]);
  for (const { result } of [param, env]) assert.equal(result.code, 0, result.stderr);
  const assets = join(outputs, 'github-assets');
  await dumpAssets(github, 'acme', 'bench', join(assets, 'param'));
  await dumpAssets(githubEnv, 'acme', 'bench', join(assets, 'env'));
  assert.ok((await filesUnder(assets)).length > 10, 'the runs were uploaded');
  await assertNoLeak([param.out, env.out, assets], printed);
});

test('an endpoint URL with userinfo is refused before any load, and the password is not printed', async () => {
  const before = (await sim.stats()).requests;
  const url = `http://planteduser:${PLANTED.urlPassword}@127.0.0.1:${sim.port}/v1/chat/completions`;
  const [inJob, onCommandLine] = await Promise.all([
    runJob('url-userinfo', { url }, {}, ['--debug']),
    (async () => {
      const out = join(outputs, 'url-userinfo-flag');
      const result = await run('url-userinfo-flag', [
        '--debug',
        'run',
        '--url',
        url,
        '--model',
        'm',
        '--scenario',
        'D(16,6)',
        '--concurrency',
        '1',
        '--max-requests',
        '3',
        '--out',
        out,
      ]);
      return { result, out };
    })(),
  ]);
  for (const { result } of [inJob, onCommandLine]) {
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /credentials in the URL are not supported/);
  }
  assert.equal((await sim.stats()).requests, before, 'no request was sent');
  await assertNoLeak([outputs], printed);
});

test('a server that echoes the credentials and the request back in its errors: the records hold none of them', async () => {
  const { result, out } = await runJob(
    'echo',
    {
      url: `${echoUrl}/v1/chat/completions`,
      spec: { additionalRequestParams: { api_key: PLANTED.requestParamKey } },
    },
    { INFERMARK_API_KEY: PLANTED.apiKeyEnv },
  );
  // Nothing completed: exit 1, but the run folder is written with the failures.
  assert.equal(result.code, 1, result.stderr);
  const records = await readFile(join(await runFolderUnder(out), 'iterations/000/requests.jsonl'), 'utf8');
  // The key was sent, and the server's reply is in the records with what it quoted replaced.
  assert.match(records, /invalid credentials: authorization=Bearer (\*\*\*|\[redacted\]);/);
  await assertNoLeak([out], printed);
});

test('failed uploads (wrong Azure key, GitHub 401, wrong S3 key id) print no secret, --debug stacks included', async () => {
  const [readOnly, azure, gh, local] = await Promise.all([
    // Listing is allowed, so the run happens; writing is not, so its upload fails at the end.
    runJob(
      'az-read-only-sas',
      {
        outputLocation: {
          storageUri: `az://${azurite.account}/runs/read-only`,
          parameters: { azure_blob_endpoint: azurite.blobEndpoint, azure_sas_token: readOnlySas.token },
        },
      },
      { INFERMARK_API_KEY: PLANTED.apiKeyEnv },
      ['--debug'],
    ),
    runJob(
      'az-wrong-key',
      {
        outputLocation: {
          storageUri: `az://${azurite.account}/runs/wrong`,
          parameters: { azure_blob_endpoint: azurite.blobEndpoint, azure_account_key: PLANTED.azureWrongKey },
        },
      },
      {},
      ['--debug'],
    ),
    runJob(
      'github-wrong-token',
      {
        outputLocation: {
          storageUri: 'github://acme/bench@v2',
          parameters: { github_api_url: github.url, github_token: PLANTED.githubWrong },
        },
      },
      {},
      ['--debug'],
    ),
    // A sealed run folder to upload by hand.
    runJob('local', {}, {}, ['--quiet']),
  ]);
  assert.equal(readOnly.result.code, 1, readOnly.result.stdout + readOnly.result.stderr);
  assert.match(readOnly.result.stderr, /infermark: upload failed: .*AuthorizationPermissionMismatch/);
  assert.match(readOnly.result.stdout, /run folder: /);
  // Refused at the preflight, before any load.
  for (const { result } of [azure, gh]) {
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /infermark: .*(401|403)/);
  }
  assert.equal(local.result.code, 0, local.result.stderr);
  const runDir = await runFolderUnder(local.out);
  const common = ['--param', `aws_endpoint_url=${s3.endpoint}`];
  const [uploaded, refused] = await Promise.all([
    run('upload', [
      'upload',
      runDir,
      `s3://${s3.bucket}/by-hand`,
      ...common,
      '--param',
      `aws_access_key_id=${s3.accessKeyId}`,
      '--param',
      `aws_secret_access_key=${PLANTED.awsSecretUpload}`,
    ]),
    run('upload-wrong-key-id', [
      '--debug',
      'upload',
      runDir,
      `s3://${s3.bucket}/refused`,
      ...common,
      '--param',
      'aws_access_key_id=NOTS3RVER',
      '--param',
      `aws_secret_access_key=${PLANTED.awsSecretWrong}`,
    ]),
  ]);
  assert.equal(uploaded.code, 0, uploaded.stderr);
  assert.match(uploaded.stdout, /uploaded run/);
  assert.notEqual(refused.code, 0, refused.stdout + refused.stderr);
  await assertNoLeak([outputs, s3.directory], printed);
});

test('Azure: AZURE_STORAGE_CONNECTION_STRING (AccountKey=) and AZURE_STORAGE_SAS_TOKEN in the environment reach nothing written; a refused env key is not quoted', async () => {
  const wrongConnection = azurite
    .connectionString()
    .replace(/AccountKey=[^;]+/, `AccountKey=${PLANTED.azureEnvWrongKey}`);
  assert.notEqual(wrongConnection, azurite.connectionString(), 'the planted key replaced the real one');
  const [connection, sasRun, wrong] = await Promise.all([
    runJob(
      'az-env-connection-string',
      {
        outputLocation: { storageUri: `az://${azurite.account}/runs/env-connection`, parameters: {} },
      },
      { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString() },
      ['--json'],
    ),
    runJob(
      'az-env-sas',
      {
        outputLocation: {
          storageUri: `az://${azurite.account}/runs/env-sas`,
          parameters: { azure_blob_endpoint: azurite.blobEndpoint },
        },
      },
      { AZURE_STORAGE_SAS_TOKEN: `?${sas.token}` },
      ['--json'],
    ),
    runJob(
      'az-env-wrong-key',
      { outputLocation: { storageUri: `az://${azurite.account}/runs/env-wrong`, parameters: {} } },
      { AZURE_STORAGE_CONNECTION_STRING: wrongConnection },
      ['--debug'],
    ),
  ]);
  for (const { result } of [connection, sasRun]) {
    assert.equal(result.code, 0, result.stderr);
    // The credentials from the environment were used: every object was uploaded.
    const { upload } = JSON.parse(result.stdout) as { upload: { uploaded: number; objects: number } };
    assert.ok(upload.uploaded > 0 && upload.uploaded === upload.objects, JSON.stringify(upload));
  }
  // Refused at the preflight, before any load.
  assert.equal(wrong.result.code, 2, wrong.result.stdout + wrong.result.stderr);
  assert.match(wrong.result.stderr, /infermark: .*403/);
  const { run_id } = JSON.parse(connection.result.stdout) as { run_id: string };
  const back = join(outputs, 'az-env-connection-back');
  const download = await run(
    'download az env',
    ['download', `az://${azurite.account}/runs/env-connection`, `nightly/${run_id}`, back],
    { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString() },
  );
  assert.equal(download.code, 0, download.stdout + download.stderr);
  // The refused run wrote no folder: what it printed is scanned with the rest.
  await assertNoLeak([connection.out, sasRun.out, back, azurite.directory], printed);
});

test('an endpoint URL with secrets in its query (?code=, &api-key=, &sig=) is refused before any load; the secret is printed nowhere', async () => {
  const before = (await sim.stats()).requests;
  // `code` first: a quoted value is clipped, and no pattern knows that name (only the URL's redaction can).
  const url = `${sim.url}/v1/chat/completions?code=${PLANTED.endpointQueryCode}&api-version=2024-02-01&api-key=${PLANTED.endpointQueryKey}&sig=${PLANTED.endpointQuerySig}`;
  const job = await jobFile('url-query', { url });
  const [inJob, onCommandLine, validate] = await Promise.all([
    run('url-query', ['--debug', 'run', job, '--out', join(outputs, 'url-query')]),
    run('url-query-flag', [
      '--debug',
      'run',
      '--url',
      url,
      '--model',
      'm',
      '--scenario',
      'D(16,6)',
      '--concurrency',
      '1',
      '--max-requests',
      '3',
      '--out',
      join(outputs, 'url-query-flag'),
    ]),
    run('url-query-validate', ['validate', job]),
  ]);
  for (const result of [inJob, onCommandLine]) {
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /query strings and fragments are not supported/);
  }
  assert.notEqual(validate.code, 0, validate.stdout + validate.stderr);
  assert.match(validate.stdout + validate.stderr, /query strings and fragments are not supported/);
  assert.equal((await sim.stats()).requests, before, 'no request was sent');
  await assertNoLeak([outputs], printed);
});

test('a literal "Bearer <token>": a header field the spec lacks is refused without quoting it; in request parameters it is sent but never written', async () => {
  // The job spec has no field for extra headers: one is an unknown field, refused by name.
  const withHeader = await jobFile('bearer-header', {
    spec: { additionalHeaders: { Authorization: `Bearer ${PLANTED.bearerHeader}` } },
  });
  const [refused, validate, toSim, toEcho] = await Promise.all([
    run('bearer-header', ['--debug', 'run', withHeader, '--out', join(outputs, 'bearer-header')]),
    run('bearer-header-validate', ['validate', withHeader]),
    runJob('bearer-param', {
      spec: {
        additionalRequestParams: {
          authorization: `Bearer ${PLANTED.bearerParam}`,
          note: `Bearer ${PLANTED.bearerPlainParam}`,
        },
      },
    }),
    // The echo server quotes the request body back in its error: the records would hold it.
    runJob('bearer-param-echo', {
      url: `${echoUrl}/v1/chat/completions`,
      spec: {
        additionalRequestParams: {
          authorization: `Bearer ${PLANTED.bearerParam}`,
          note: `Bearer ${PLANTED.bearerPlainParam}`,
        },
      },
    }),
  ]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /additionalHeaders/);
  assert.notEqual(validate.code, 0, validate.stdout + validate.stderr);
  assert.match(validate.stdout + validate.stderr, /additionalHeaders/);
  assert.equal(toSim.result.code, 0, toSim.result.stderr);
  assert.equal(toEcho.result.code, 1, toEcho.result.stderr);
  const records = await readFile(
    join(await runFolderUnder(toEcho.out), 'iterations/000/requests.jsonl'),
    'utf8',
  );
  // The parameters were sent: the server's reply quoting them is in the records, scrubbed.
  // A secret-named parameter is replaced whole; a Bearer value under another name keeps its scheme word.
  assert.match(records, /\\"authorization\\":\\"(Bearer )?(\*\*\*|\[redacted\])\\"/);
  assert.match(records, /\\"note\\":\\"Bearer (\*\*\*|\[redacted\])\\"/);
  // The refused run wrote no folder: what it printed is scanned with the rest.
  await assertNoLeak([toSim.out, toEcho.out], printed);
});

/** Every row of every table of each warehouse the runs ingested into, as text (DuckDB compresses its file). */
async function warehouseRows(): Promise<Array<[string, string]>> {
  const { Warehouse } = await import('../warehouse/warehouse.js');
  const out: Array<[string, string]> = [];
  for (const file of await filesUnder(join(outputs, 'warehouses'))) {
    if (!file.endsWith('.duckdb')) continue;
    const warehouse = await Warehouse.open(file, { readOnly: true });
    try {
      const tables = await warehouse.all(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'",
      );
      for (const { table_name } of tables) {
        const { rows } = await warehouse.json(`SELECT * FROM "${String(table_name)}"`);
        out.push([`${file}: ${String(table_name)}`, JSON.stringify(rows)]);
      }
    } finally {
      warehouse.close();
    }
  }
  return out;
}

test('every byte written and printed by every run above holds no secret', async () => {
  assert.ok(printed.length / 2 >= 17, `${printed.length / 2} commands ran`);
  const rows = await warehouseRows();
  assert.ok(
    rows.some(([where, text]) => where.endsWith('request_fact') && text.includes('http_4xx')),
    'the echo run was ingested',
  );
  const files = await assertNoLeak([outputs, s3.directory, azurite.directory], [...printed, ...rows]);
  assert.ok(files > 100, `${files} files read`);
  // The scan finds what is there: the job files hold the secrets they planted.
  const control = (await leaksUnder([inputs], [])).found.join('\n');
  for (const secret of [
    PLANTED.apiKeyFile,
    PLANTED.urlPassword,
    PLANTED.queryToken,
    PLANTED.awsSecretParam,
    PLANTED.githubParam,
    PLANTED.azureWrongKey,
    encodeURIComponent(sas.signature),
    azurite.key,
    PLANTED.endpointQueryCode,
    PLANTED.bearerHeader,
    PLANTED.bearerPlainParam,
  ]) {
    assert.ok(control.includes(JSON.stringify(secret)), `the scan misses ${secret}`);
  }
});
