/**
 * Tests of the load meter with readings at chosen times (no clock involved): integrals of
 * batch occupancy and preprocessing, and the smoothing of utilisation and load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadMeter } from './load-meter.js';

test('busy and preprocessing seconds integrate the levels between changes', () => {
  const meter = new LoadMeter(4, 1000);
  meter.set(1000, 2, 0); // half the batch for 1 s
  meter.set(2000, 4, 1); // full batch and preprocessing for 0.5 s
  meter.set(2500, 8, 0); // over capacity counts as full
  const r = meter.read(3000);
  assert.equal(r.elapsed_s, 2);
  assert.ok(Math.abs(r.busy_s - (0.5 + 0.5 + 0.5)) < 1e-9, String(r.busy_s));
  assert.ok(Math.abs(r.preprocessing_s - 0.5) < 1e-9);
});

test('utilisation follows the batch within about a second; load1 over a minute; idle decays', () => {
  const meter = new LoadMeter(2, 0);
  meter.set(0, 2, 0);
  assert.ok(meter.read(300).utilization > 0.2 && meter.read(300).utilization < 0.3);
  const settled = meter.read(5000);
  assert.ok(settled.utilization > 0.99);
  assert.ok(settled.load1 > 0.05 && settled.load1 < 0.1, String(settled.load1));
  meter.set(5000, 0, 0);
  assert.ok(meter.read(10_000).utilization < 0.01);
  // Reading twice at once changes nothing; time never runs backwards.
  assert.deepEqual(meter.read(10_000), meter.read(9_000));
});
