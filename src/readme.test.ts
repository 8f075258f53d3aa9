/**
 * The README and docs/ are part of the contract: the metrics page is the registry's
 * table (so documentation and code cannot drift), the README's quickstart holds
 * exactly two commands, and every local link in the README and docs/ leads to a file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metricsMarkdownTable } from './metrics/definitions.js';

// dist/src → the repository root.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('docs/metrics.md holds the metric registry, and the README links to it', () => {
  const file = join(ROOT, 'docs', 'metrics.md');
  const markers = /(<!-- metrics:start -->\n)([\s\S]*?)(<!-- metrics:end -->)/;
  // INFERMARK_UPDATE_DOCS=1 writes the registry's table between the markers (then review the diff).
  if (process.env.INFERMARK_UPDATE_DOCS === '1') {
    const current = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      current.replace(markers, (_, start, _old, end) => `${start}${metricsMarkdownTable()}${end}`),
    );
  }
  const page = readFileSync(file, 'utf8');
  const match = markers.exec(page);
  assert.ok(match, 'docs/metrics.md has the metrics markers');
  assert.equal(
    match[2]?.trim(),
    metricsMarkdownTable().trim(),
    'docs/metrics.md differs from the registry: run `INFERMARK_UPDATE_DOCS=1 node --test dist/src/readme.test.js` and review the diff',
  );
  assert.match(readme, /\]\(docs\/metrics\.md\)/);
});

test('README quickstart holds exactly two commands: the demo and the tests', () => {
  const quickstart = /## Quickstart\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const commands = (/```sh\n([\s\S]*?)```/.exec(quickstart)?.[1] ?? '').trim().split('\n');
  assert.equal(commands.length, 2);
  assert.match(commands[0] ?? '', /^npm ci && npm run demo\b/);
  assert.match(commands[1] ?? '', /^npm ci && npm test\b/);
});

test('every local link in the README and docs/ names a file that exists', () => {
  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((name) => join('docs', name))].filter(
    (page) => page.endsWith('.md'),
  );
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string) || (target as string).startsWith('#')) continue;
      const file = (target as string).split('#')[0] as string;
      if (!existsSync(join(ROOT, dirname(page), file))) broken.push(`${page}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});
