import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue, ValidationError } from './errors.js';

test('formatIssue names file, path, value and expectation', () => {
  assert.equal(
    formatIssue({
      file: 'job.yaml',
      path: 'spec.trafficScenarios[2]',
      value: 'N(480,-1)/(300,150)',
      message: 'standard deviation must be > 0',
    }),
    'job.yaml: spec.trafficScenarios[2]: "N(480,-1)/(300,150)": standard deviation must be > 0',
  );
});

test('ValidationError lists every issue and exits 2', () => {
  const error = new ValidationError([
    { file: 'a.yaml', path: 'spec.task', value: 'x', message: 'expected text-to-text' },
    { file: 'a.yaml', path: 'spec.numConcurrency[0]', value: 0, message: 'must be ≥ 1' },
  ]);
  assert.equal(error.exitCode, 2);
  assert.match(error.message, /2 validation errors/);
  assert.match(error.message, /spec\.numConcurrency\[0\]: 0: must be ≥ 1/);
});

test('formatIssue quotes no secret: URL userinfo and query, secret-named fields and values are replaced', () => {
  const url = formatIssue({
    path: 'spec.endpoint.endpoint.url',
    value: 'https://u:PLANTEDpass@h/v1/chat/completions?code=PLANTEDfunctionKey0123&api-version=1',
    message: 'query strings and fragments are not supported in the endpoint URL',
  });
  assert.doesNotMatch(url, /PLANTED/);
  assert.match(
    url,
    /spec\.endpoint\.endpoint\.url: "https:\/\/%5Bredacted%5D@h\/v1\/chat\/completions\?code=/,
  );
  const field = formatIssue({
    path: 'spec.apiKey',
    value: 'sk-PLANTEDapiKey0123456789',
    message: 'expected an object',
  });
  assert.equal(field, 'spec.apiKey: "[redacted]": expected an object');
  const listed = formatIssue({ path: 'spec.x.tokens[1]', value: 'PLANTEDtoken0123', message: 'bad' });
  assert.equal(listed, 'spec.x.tokens[1]: "[redacted]": bad');
  const nested = formatIssue({
    path: 'spec.outputLocation.parameters',
    value: { aws_secret_access_key: 'PLANTEDsecret0123', aws_region: 'us-east-1' },
    message: 'bad',
  });
  assert.doesNotMatch(nested, /PLANTED/);
  assert.match(nested, /"aws_region":"us-east-1"/);
  // Ordinary values are quoted as written.
  assert.equal(
    formatIssue({ path: 'spec.max_tokens', value: 'x', message: 'bad' }),
    'spec.max_tokens: "x": bad',
  );
});
