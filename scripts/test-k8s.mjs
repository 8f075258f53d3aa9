// `npm run test:k8s`: the Kubernetes tests against a real control plane (docs/k8s.md).
// Builds kube-apiserver and kube-controller-manager from Debian's sources the first time
// (scripts/k8s/build-kube.sh: about 5 minutes on 2 idle cores, cached by version outside
// the clone), then runs every *.k8s.test.js one file at a time: each starts its own
// etcd, API server and controller-manager on loopback.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

const built = spawnSync('bash', [join(ROOT, 'scripts', 'k8s', 'build-kube.sh')], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
if (built.status !== 0) {
  process.stderr.write(`scripts/test-k8s.mjs: building the control plane failed (exit ${built.status})\n`);
  process.exit(1);
}
const bin = built.stdout.trim().split('\n').pop();

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.k8s.test.js') ? [path] : [];
  });
}
const files = testFiles(join(ROOT, 'dist', 'src')).sort();
const started = Date.now();
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', ...files.map((f) => relative(ROOT, f).split(sep).join('/'))],
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, INFERMARK_KUBE_BIN: bin } },
);
process.stdout.write(
  `# kubernetes tests: ${files.length} files, exit ${result.status ?? result.signal} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
process.exit(result.status ?? 1);
