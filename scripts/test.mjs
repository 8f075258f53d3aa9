// The test suite as `npm test` runs it, after the build: unit and contract test files in
// parallel, then the timing-sensitive files one at a time, each alone on the host, so
// their measurements are not disturbed by the rest of the suite.
// INFERMARK_TEST_CONCURRENCY sets how many files run at once in the first part.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TESTS = join(ROOT, 'dist', 'src');

/**
 * Files that measure time (client against server timing, deadlines, timeouts, elapsed
 * budgets, statistical trials over jittered servers), relative to dist/src.
 */
const TIMING_SENSITIVE = [
  'engine/timing-truth.test.js',
  'engine/load-truth.test.js',
  'engine/executors.test.js',
  'engine/segments.test.js',
  'cli/workers.test.js',
  'sim/server.test.js',
  'sim/options.test.js',
  'sim/write-log.test.js',
  'backends/openai.test.js',
  'backends/hostile-server.test.js',
  'backends/keepalive.test.js',
  'backends/connections.test.js',
  'telemetry/scraper.test.js',
  'server/warehouse-access.test.js',
  'gate/gate.test.js',
  'gate/stats/u-distribution.test.js',
  'telemetry/hot-metrics.test.js',
  'warehouse/warehouse-lock.test.js',
  'storage/upload-safety.test.js',
  'e2e/dashboard.browser.test.js',
  'e2e/report.browser.test.js',
  'e2e/diagnosis.browser.test.js',
  'diagnose/diagnose.test.js',
  'diagnose/playbooks.test.js',
  // Issue 19: the search finds a knee against the simulator's real capacity, and the
  // prefix-cache and API-format tests compare each TTFT with the simulator's writes.
  'cli/search.test.js',
  'engine/prefix-cache.test.js',
  'backends/formats.test.js',
  // Issue 16's last parts: a shard ended within about a progress interval of the run's 20th
  // failure; hot metrics scraped while a split run goes; scrapes counted on the timer.
  'cli/workers-fail-fast.test.js',
  'cli/hot-workers.test.js',
  'engine/coordinator-telemetry.test.js',
];

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    // The Kubernetes tests need a built control plane: `npm run test:k8s` runs them.
    return entry.name.endsWith('.test.js') && !entry.name.endsWith('.k8s.test.js') ? [path] : [];
  });
}

const all = testFiles(TESTS).sort();
const timing = TIMING_SENSITIVE.map((file) => join(TESTS, ...file.split('/')));
// A renamed or removed file must not silently move into the parallel part, or out of the suite.
const missing = timing.filter((file) => !existsSync(file));
if (missing.length > 0) {
  process.stderr.write(
    `scripts/test.mjs: timing-sensitive test files not found (update the list): ${missing.map((f) => relative(ROOT, f)).join(', ')}\n`,
  );
  process.exit(2);
}
const parallel = all.filter((file) => !timing.includes(file));
const concurrency = Number(
  process.env.INFERMARK_TEST_CONCURRENCY ?? Math.min(4, Math.max(2, availableParallelism())),
);

function run(label, files, filesAtOnce) {
  process.stdout.write(`# ${label}: ${files.length} files, ${filesAtOnce} at a time\n`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${filesAtOnce}`,
      ...files.map((f) => relative(ROOT, f).split(sep).join('/')),
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  process.stdout.write(
    `# ${label}: exit ${result.status ?? result.signal} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return result.status === 0;
}

const parallelOk = run('unit and contract tests', parallel, concurrency);
const timingOk = run('timing-sensitive tests', timing, 1);
process.exit(parallelOk && timingOk ? 0 : 1);
