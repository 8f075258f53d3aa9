/**
 * The published package is the product only: `npm pack` lists no test, fake, fixture,
 * harness or benchmark, and the product's import graph closes inside the package (a
 * module that imported test support would import a file users do not have).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/src → the repository root.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Test support by name: test files, testing/ folders, e2e, benchmarks, fixtures, fakes. */
const NOT_PRODUCT =
  /(\.test\.|(^|\/)testing\/|(^|\/)e2e\/|^dist\/bench\/|fixtures?\.|harness|\.case\.|(^|\/)fake-)/;

function packedFiles(): string[] {
  // --ignore-scripts: `prepare` would rebuild dist/ under the running suite.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  const [pack] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  assert.ok(pack, 'npm pack printed one package');
  return pack.files.map((file) => file.path);
}

const files = packedFiles();

test('the package lists no test, fake, fixture or benchmark file', () => {
  assert.deepEqual(
    files.filter((path) => NOT_PRODUCT.test(path)),
    [],
  );
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  for (const bin of Object.values(pkg.bin)) assert.ok(files.includes(bin), `bin ${bin} is packed`);
});

test('every relative import of a packed module resolves to a packed file', () => {
  const packed = new Set(files);
  const missing: string[] = [];
  for (const path of files.filter((file) => file.endsWith('.js'))) {
    const source = readFileSync(join(ROOT, path), 'utf8');
    for (const match of source.matchAll(
      /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g,
    )) {
      const target = posix.normalize(posix.join(dirname(path), match[1] ?? ''));
      if (!packed.has(target)) missing.push(`${path} → ${target}`);
    }
  }
  assert.deepEqual(missing, []);
});
