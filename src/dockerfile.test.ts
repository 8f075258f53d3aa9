/**
 * The Dockerfile, read statically (no Docker engine runs here): a base image pinned to a
 * Node major, a non-root numeric USER that matches the Deployment's runAsUser, an
 * ENTRYPOINT that runs the CLI package.json's bin names, the production install, every
 * COPY source present and not excluded by .dockerignore, and what the product reads
 * beside dist/ (package.json, data/, examples/) copied into the runtime stage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_UID } from './k8s/manifests.js';

// dist/src → the repository root.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Instruction {
  op: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: (op as string).toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const stages: Instruction[][] = [];
for (const ins of dockerfile) {
  if (ins.op === 'FROM') stages.push([]);
  stages.at(-1)?.push(ins);
}
const runtime = stages.at(-1) ?? [];
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  engines: { node: string };
};

test('every stage starts from node:<major>-bookworm-slim, the major package.json requires', () => {
  const major = /(\d+)/.exec(pkg.engines.node)?.[1];
  assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
  for (const stage of stages) {
    const from = stage[0]!.args.split(/\s+/)[0];
    assert.match(from ?? '', /^node:\d+-bookworm-slim$/, `FROM ${from}: pin the Node major, not latest`);
    assert.equal(from, `node:${major}-bookworm-slim`);
  }
});

test('the runtime stage installs production dependencies only and runs as a numeric non-root user', () => {
  const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
  assert.ok(
    runs.some((r) => /npm ci\b.*--omit=dev/.test(r)),
    'npm ci --omit=dev in the runtime stage',
  );
  // `npm ci --ignore-scripts` skips our own `prepare` (a build), and would skip a dependency's
  // install script too: safe only while the lockfile has none.
  const lock = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  if (dockerfile.some((i) => i.op === 'RUN' && i.args.includes('--ignore-scripts'))) {
    assert.doesNotMatch(lock, /"hasInstallScript": true/, 'a dependency needs its install script now');
  }
  const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
  assert.ok(users.length > 0, 'a USER in the runtime stage');
  const user = users.at(-1)!;
  assert.match(user, /^\d+(:\d+)?$/, 'numeric, so the kubelet can check runAsNonRoot');
  const uid = Number(user.split(':')[0]);
  assert.notEqual(uid, 0);
  assert.equal(uid, IMAGE_UID, "the Deployment's runAsUser");
  // The USER comes after every RUN: nothing runs as root once it is set, and nothing after it needs root.
  const lastRun = runtime.map((i) => i.op).lastIndexOf('RUN');
  assert.ok(runtime.findIndex((i) => i.op === 'USER') > lastRun);
});

test("ENTRYPOINT runs the CLI that package.json's bin names, from the PATH", () => {
  const entry = runtime.filter((i) => i.op === 'ENTRYPOINT').at(-1);
  assert.ok(entry, 'an ENTRYPOINT');
  const argv = JSON.parse(entry.args) as string[];
  assert.deepEqual(argv, ['infermark']);
  assert.deepEqual(Object.keys(pkg.bin), ['infermark']);
  const script = pkg.bin.infermark!;
  const link = runtime
    .filter((i) => i.op === 'RUN')
    .map((i) => /ln -s (\S+) (\S+)/.exec(i.args))
    .find((m) => m !== null);
  assert.ok(link, 'a link to the bin script');
  assert.equal(link[1], `/app/${script}`);
  assert.equal(link[2], '/usr/local/bin/infermark');
  assert.ok(
    runtime.some((i) => i.op === 'RUN' && i.args.includes(`chmod 0755 /app/${script}`)),
    'the bin script is executable',
  );
  assert.ok(existsSync(join(ROOT, 'src', 'cli', 'main.ts')));
  assert.match(readFileSync(join(ROOT, 'src', 'cli', 'main.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('.dockerignore keeps node_modules, dist and artifacts out of the build context', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  for (const name of ['node_modules', 'dist', 'artifacts']) assert.ok(ignored.includes(name), name);
  // Every COPY from the build context names a file that exists and is not ignored.
  const copies = dockerfile.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
  assert.ok(copies.length > 0);
  for (const copy of copies) {
    const sources = copy.args.split(/\s+/).slice(0, -1);
    for (const source of sources) {
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: not in the repository`);
      assert.ok(!ignored.includes(source.replace(/\/$/, '')), `COPY ${source}: excluded by .dockerignore`);
    }
  }
});

test('the build stage has every folder tsconfig.json compiles', () => {
  const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
  const build = stages[0]!;
  const copied = build
    .filter((i) => i.op === 'COPY')
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .slice(0, -1)
        .map((source) => source.replace(/\/$/, '')),
    );
  assert.ok(copied.includes('tsconfig.json'));
  for (const pattern of tsconfig.include) {
    const folder = pattern.split('/')[0]!;
    assert.ok(
      copied.includes(folder),
      `${folder}/ (tsconfig include ${pattern}) is not copied into the build stage`,
    );
  }
});

test('what the product reads beside dist/ is in the runtime stage', () => {
  const copied = runtime
    .filter((i) => i.op === 'COPY')
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'))
        .slice(0, -1),
    );
  // environment.ts and sim/routes.ts read package.json, workload/prompts.ts data/corpus.txt,
  // cli/demo.ts examples/demo.yaml; the compiled product comes from the build stage.
  for (const needed of ['package.json', 'data', 'examples', '/src/dist/src']) {
    assert.ok(copied.includes(needed), `${needed} is not copied into the runtime stage`);
  }
  assert.ok(existsSync(join(ROOT, 'data', 'corpus.txt')));
  assert.ok(existsSync(join(ROOT, 'examples', 'demo.yaml')));
});
