/**
 * Admission control: up to `capacity` running, the rest queued in arrival order and
 * started as running ones leave; leaving the queue early and closing are handled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batch, type BatchMember } from './batch.js';
import type { SimCounters } from './metrics.js';
import { noFaults } from './faults.js';

function counters(capacity: number): SimCounters {
  return {
    running: 0,
    waiting: 0,
    promptTokens: 0,
    generationTokens: 0,
    successStop: 0,
    successLength: 0,
    prefixHitTokens: 0,
    capacity,
    injected: noFaults(),
  };
}

function member(name: string, started: string[]): BatchMember {
  return {
    state: 'new',
    begin(now_ms) {
      this.state = 'running';
      started.push(`${name}@${now_ms}`);
    },
  };
}

test('beyond capacity requests wait, then start in arrival order as others leave', () => {
  const c = counters(2);
  const batch = new Batch(c, 2);
  const started: string[] = [];
  const [a, b, d, e] = ['a', 'b', 'd', 'e'].map((n) => member(n, started)) as [
    BatchMember,
    BatchMember,
    BatchMember,
    BatchMember,
  ];
  batch.admit(a, 1);
  batch.admit(b, 2);
  batch.admit(d, 3);
  batch.admit(e, 4);
  assert.deepEqual(started, ['a@1', 'b@2'], 'admitted ones start at their arrival');
  assert.deepEqual([c.running, c.waiting, batch.peakRunning, batch.peakWaiting], [2, 2, 2, 2]);
  batch.release(a, 'completed');
  assert.equal(started.length, 3);
  assert.match(started[2] as string, /^d@/);
  // e leaves the queue before its turn: it is skipped, never started.
  batch.release(e, 'cancelled');
  assert.deepEqual([c.running, c.waiting], [2, 0]);
  batch.release(b, 'faulted');
  batch.release(d, 'completed');
  assert.equal(started.length, 3);
  assert.deepEqual([c.running, c.waiting, batch.completed, batch.cancelled], [0, 0, 2, 1]);
});

test('after close nothing queued is started', () => {
  const c = counters(1);
  const batch = new Batch(c, 1);
  const started: string[] = [];
  const a = member('a', started);
  const b = member('b', started);
  batch.admit(a, 0);
  batch.admit(b, 0);
  batch.close();
  assert.equal(a.state, 'done');
  assert.equal(b.state, 'done');
  assert.deepEqual(started, ['a@0']);
});
