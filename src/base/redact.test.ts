import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, holdsKnownSecret, redactSecrets, registerSecret, scrubText } from './redact.js';

test('secret-named fields are redacted at any depth; other fields are kept', () => {
  const job = {
    spec: {
      outputLocation: {
        storageUri: 's3://bucket/path',
        parameters: {
          aws_access_key_id: 'AKIAIOSFODNN7EXAMPLE',
          aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG',
          aws_region: 'us-east-1',
          github_token: 'ghp_xxxxxxxxxxxx',
          azure_sas_token: '?sv=2020',
          azure_connection_string: 'DefaultEndpointsProtocol=https;AccountKey=abc',
          azure_account_key: 'k',
          security_token: 't',
        },
      },
      additionalRequestParams: { temperature: '0.0', api_key: 'sk-live', max_tokens: '256' },
      tokenizer: 'o200k_base',
      apiKey: { env: 'MY_KEY' },
    },
  };
  const out = redactSecrets(job);
  const params = out.spec.outputLocation.parameters;
  for (const [key, value] of Object.entries(params)) {
    assert.equal(value, key === 'aws_region' ? 'us-east-1' : REDACTED, key);
  }
  assert.equal(out.spec.additionalRequestParams.temperature, '0.0');
  assert.equal(out.spec.additionalRequestParams.api_key, REDACTED);
  assert.equal(out.spec.additionalRequestParams.max_tokens, '256', 'a token count is not a token');
  assert.equal(out.spec.tokenizer, 'o200k_base');
  assert.equal(out.spec.outputLocation.storageUri, 's3://bucket/path');
  // The name of the variable holding the key is not the key.
  assert.equal(out.spec.apiKey.env, 'MY_KEY');
  assert.equal(job.spec.outputLocation.parameters.github_token, 'ghp_xxxxxxxxxxxx', 'input untouched');
});

test('URLs lose their userinfo and query values; arrays under secret names are redacted', () => {
  const out = redactSecrets({
    storageUri: 'az://account/container/path?sv=2024-01-01&sig=abcSIGNATURE',
    metricsUrl: 'http://user:hunter2@127.0.0.1:8000/metrics?token=t0k3n',
    plain: 'http://127.0.0.1:8000/v1/chat/completions',
    notUrl: 'D(100,100)',
    tokens: ['t1', 't2'],
  });
  assert.equal(out.plain, 'http://127.0.0.1:8000/v1/chat/completions');
  assert.equal(out.notUrl, 'D(100,100)');
  assert.deepEqual(out.tokens, [REDACTED, REDACTED]);
  const text = JSON.stringify(out);
  for (const secret of ['abcSIGNATURE', 'hunter2', 't0k3n', 'user:']) assert.ok(!text.includes(secret), text);
  assert.match(out.storageUri, /^az:\/\/account\/container\/path\?sv=/);
});

test('scrubText removes registered secrets and secret-shaped tokens from any text', () => {
  registerSecret('s3cr3t-value-123');
  const text = [
    'failed with key s3cr3t-value-123 in it',
    'authorization: Bearer abc.def-ghi',
    'https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sig=SIGNATURE123&se=2030',
    'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QUJDREVGRw==;EndpointSuffix=x',
    'token ghp_abcdefghijklmnopqrstuvwxyz0123 and github_pat_11ABCDEFG0123456789_abcdefghij',
    'api key sk-proj-abcdefghijklmnop1234',
    'http://user:pa55word@127.0.0.1:9/v1',
    'http_requests_total{code="200",method="post"} 3',
  ].join('\n');
  const out = scrubText(text);
  for (const secret of [
    's3cr3t-value-123',
    'abc.def-ghi',
    'SIGNATURE123',
    'QUJDREVGRw==',
    'ghp_abcdefghijklmnopqrstuvwxyz0123',
    'github_pat_11ABCDEFG0123456789_abcdefghij',
    'sk-proj-abcdefghijklmnop1234',
    'pa55word',
  ]) {
    assert.ok(!out.includes(secret), `${secret} in ${out}`);
  }
  assert.ok(out.includes('http_requests_total{code="200",method="post"} 3'), 'ordinary text is kept');
  assert.ok(out.includes('sv=2024-01-01'), 'non-secret SAS fields are kept');
  assert.equal(holdsKnownSecret('x s3cr3t-value-123 y'), true);
  assert.equal(holdsKnownSecret('nothing here'), false);
});
