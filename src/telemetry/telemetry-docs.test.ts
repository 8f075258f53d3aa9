// docs/telemetry.md's families table is the registry's (metrics/telemetry-families.ts), row for
// row: a family added, renamed or respelled there shows here, or this test says which.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listTelemetryFamilies } from '../metrics/telemetry-families.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The table's rows as the registry gives them. */
function familyRows(): string[] {
  return listTelemetryFamilies().map((f) => {
    const spellings = Object.entries(f.spellings)
      .map(([engine, names]) => `${engine}: ${names.map((n) => `\`${n}\``).join(', ')}`)
      .join('; ');
    const unit = f.percent ? `${f.unit} (exposed in percent)` : f.unit;
    return `| \`${f.name}\` | ${f.role} | ${f.kind} | ${unit} | ${f.direction} | ${spellings} |`;
  });
}

test('docs/telemetry.md lists every telemetry family of the registry, as the registry has it', () => {
  const page = readFileSync(join(ROOT, 'docs', 'telemetry.md'), 'utf8');
  const block = /<!-- telemetry-families:start -->\n([\s\S]*?)<!-- telemetry-families:end -->/.exec(page);
  assert.ok(block, 'docs/telemetry.md has the telemetry-families markers');
  const rows = (block[1] as string).split('\n').filter((line) => line.startsWith('| `'));
  assert.deepEqual(rows, familyRows());
});
