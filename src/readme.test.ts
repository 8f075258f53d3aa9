/**
 * The README is part of the contract: its metrics section is the registry's table
 * (so documentation and code cannot drift), and its quickstart holds exactly two commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { metricsMarkdownTable } from './metrics/definitions.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('README metrics section equals the metric registry', () => {
  const match = /<!-- metrics:start -->\n([\s\S]*?)<!-- metrics:end -->/.exec(readme);
  assert.ok(match, 'README has the metrics markers');
  assert.equal(match[1]?.trim(), metricsMarkdownTable().trim());
});

test('README quickstart holds exactly two commands: the demo and the tests', () => {
  const quickstart = /## Quickstart\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const commands = (/```sh\n([\s\S]*?)```/.exec(quickstart)?.[1] ?? '').trim().split('\n');
  assert.equal(commands.length, 2);
  assert.match(commands[0] ?? '', /^npm ci && npm run demo\b/);
  assert.match(commands[1] ?? '', /^npm ci && npm test\b/);
});
