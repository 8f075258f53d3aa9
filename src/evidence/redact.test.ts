import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, redactSecrets } from './redact.js';

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
      additionalRequestParams: { temperature: '0.0', api_key: 'sk-live' },
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
