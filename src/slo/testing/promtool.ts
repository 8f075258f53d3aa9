/**
 * Prometheus' own `promtool` (Debian's `prometheus` package), for tests: it checks that
 * rule files parse and that their alerts fire on given input series. A test that needs it
 * fails, not skips, when it is missing: the rules are only as good as this check.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface PromtoolResult {
  code: number | null;
  output: string;
}

/** Runs `promtool args...` in `cwd` (60 s at most); fails the test when promtool is not installed. */
export function promtool(args: string[], cwd: string): PromtoolResult {
  const result = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail(
      'promtool is not installed: these tests check the exported rules with it (apt-get install prometheus)',
    );
  }
  return { code: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** A temporary folder for the test's files, removed by the returned function. */
export function scratch(prefix: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Checks that every expression parses as PromQL, by promtool itself: each becomes a
 * recording rule of a throwaway file. Returns promtool's result.
 */
export function checkExpressions(expressions: readonly string[]): PromtoolResult {
  const { dir, done } = scratch('infermark-promql-');
  try {
    const rules = expressions.map((expr, i) => ({ record: `infermark_check:expr_${i}`, expr }));
    writeFileSync(
      join(dir, 'exprs.yaml'),
      stringify({ groups: [{ name: 'check', rules }] }, { lineWidth: 0 }),
    );
    return promtool(['check', 'rules', 'exprs.yaml'], dir);
  } finally {
    done();
  }
}
