// Price table files: read and checked whole, errors naming the file, the entry and what was expected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.js';
import { loadJobPriceTable, readPriceTable } from './price-table.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infermark-prices-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = async (name: string, text: string): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

test('YAML and JSON tables read as GPU type → USD per GPU-hour', async () => {
  assert.deepEqual(await readPriceTable(await write('p.yaml', 'H100: 2.49\nA100: 1.1\n')), {
    H100: 2.49,
    A100: 1.1,
  });
  assert.deepEqual(await readPriceTable(await write('p.json', '{"MI300": 3}')), { MI300: 3 });
});

test('every bad entry at once, with the file, the entry, the value and what was expected', async () => {
  const path = await write('bad.yaml', 'H100: free\nA100: -1\nA10: 0.5\n');
  await assert.rejects(readPriceTable(path), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /bad\.yaml: H100: "free": expected a price in USD per GPU-hour/);
    assert.match(error.message, /bad\.yaml: A100: -1: expected a price/);
    assert.doesNotMatch(error.message, /A10:/);
    return true;
  });
  await assert.rejects(
    readPriceTable(await write('list.yaml', '- 1\n- 2\n')),
    /expected a mapping of GPU type/,
  );
  await assert.rejects(
    readPriceTable(join(dir, 'missing.yaml')),
    /missing\.yaml: cannot read the price table: no such file/,
  );
});

test("the job's GPU type must be priced; no table is read when another price wins", async () => {
  const path = await write('h100.yaml', 'H100: 2\n');
  const serviceMetadata = { engine: 'vLLM', version: '1', gpuType: 'A100', gpuCount: 2 } as const;
  await assert.rejects(
    loadJobPriceTable({ cost: { priceTable: path }, serviceMetadata }, 'job.yaml'),
    /job\.yaml: spec\.serviceMetadata\.gpuType: "A100": the price table .*h100\.yaml has no price for it \(it lists H100\)/,
  );
  assert.equal(
    await loadJobPriceTable({ costPerHourUsd: 5, cost: { priceTable: join(dir, 'none') } }, 'job.yaml'),
    null,
  );
});
