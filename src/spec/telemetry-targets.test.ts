// spec.telemetry: targets from a job file and from --telemetry [role=]url, names filled in and
// unique, the server's /metrics added unless a server target is listed, and bad targets refused
// naming the file or flag, the field, the value and what was expected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssue, ValidationError } from '../base/errors.js';
import { jobFromCli, telemetryFlag } from './cli-job.js';
import { parseJobText } from './load-job.js';
import { resolveTelemetryTargets } from './telemetry-targets.js';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    return error.issues.map(formatIssue);
  }
  assert.fail('expected a ValidationError');
}

const JOB = (telemetry: string): string => `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata: { name: t }
spec:
  endpoint: { endpoint: { url: "http://127.0.0.1:8000", apiFormat: openai, modelName: m } }
  task: text-to-text
  maxTimePerIteration: 1
  maxRequestsPerIteration: 1
  telemetry:
${telemetry}
`;

describe('telemetry targets', () => {
  it('--telemetry: role=url, a plain url is the server', () => {
    assert.deepEqual(telemetryFlag('gpu=http://h:9400/metrics'), {
      role: 'gpu',
      url: 'http://h:9400/metrics',
    });
    assert.deepEqual(telemetryFlag('http://h:8000/metrics?a=b'), {
      role: 'server',
      url: 'http://h:8000/metrics?a=b',
    });
    const job = jobFromCli({
      url: 'http://127.0.0.1:8000',
      model: 'm',
      telemetry: ['gpu=http://127.0.0.1:9400/metrics', 'node=http://127.0.0.1:9100/metrics'],
    });
    assert.deepEqual(job.spec.telemetry, [
      { role: 'gpu', url: 'http://127.0.0.1:9400/metrics' },
      { role: 'node', url: 'http://127.0.0.1:9100/metrics' },
    ]);
  });

  it('names: <role>, then <role>-2, skipping names taken; the server target added unless listed', () => {
    const targets = resolveTelemetryTargets(
      [
        { role: 'gpu', url: 'http://a/m' },
        { role: 'gpu', url: 'http://b/m', name: 'gpu-2' },
        { role: 'gpu', url: 'http://c/m' },
        { role: 'node', url: 'http://d/m', labels: { node_name: 'n1' } },
      ],
      'http://s/metrics',
    );
    assert.deepEqual(
      targets.map((t) => [t.name, t.role, t.implicit]),
      [
        ['gpu', 'gpu', false],
        ['gpu-2', 'gpu', false],
        ['gpu-3', 'gpu', false],
        ['node', 'node', false],
        ['server', 'server', true],
      ],
    );
    assert.deepEqual(targets[3]?.labels, { node_name: 'n1' });
    const listed = resolveTelemetryTargets(
      [{ role: 'server', url: 'http://x/m', name: 'vllm' }],
      'http://s/m',
    );
    assert.deepEqual(
      listed.map((t) => t.name),
      ['vllm'],
      'a listed server target replaces the implicit one',
    );
  });

  it('a job file: every problem named by file, field path, value and expectation', () => {
    const lines = issuesOf(() =>
      parseJobText(
        JOB(`    - { url: "ftp://x/metrics", role: gpu }
    - { url: "http://x/m", role: gpus }
    - { url: "http://x/m", role: node, name: "Node A" }
    - { url: "http://x/m", role: node, name: dup }
    - { url: "http://x/m", role: node, name: dup, labels: { "bad-label": v } }`),
        'job.yaml',
      ),
    );
    const text = lines.join('\n');
    assert.match(text, /job\.yaml: spec\.telemetry\[0\]\.url: .*must start with http:\/\/ or https:\/\//);
    assert.match(text, /job\.yaml: spec\.telemetry\[1\]\.role: .*"gpus".*server.*gpu.*node.*cluster/);
    assert.match(text, /job\.yaml: spec\.telemetry\[2\]\.name: .*"Node A".*lowercase/);
    assert.match(
      text,
      /job\.yaml: spec\.telemetry\[4\]\.name: "dup": already the name of spec\.telemetry\[3\]/,
    );
    assert.match(text, /job\.yaml: spec\.telemetry\[4\]\.labels.*bad-label.*Prometheus label name/);
  });

  it('at most 32 targets; the flag named in errors', () => {
    const many = Array.from({ length: 33 }, (_, i) => `    - { url: "http://x/${i}", role: node }`).join(
      '\n',
    );
    assert.match(issuesOf(() => parseJobText(JOB(many), 'job.yaml')).join('\n'), /spec\.telemetry: .*32/);
    const lines = issuesOf(() =>
      jobFromCli({ url: 'http://127.0.0.1:8000', model: 'm', telemetry: ['disk=http://x/m'] }),
    );
    assert.match(lines.join('\n'), /command line: --telemetry\[0\]\.role: .*"disk"/);
  });
});
