import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { AbortFanout } from './abort-fanout.js';

test('one listener on the shared signal however many requests join; each member called once', () => {
  const fanout = new AbortFanout();
  const controller = new AbortController();
  const called: number[] = [];
  const leaves = Array.from({ length: 600 }, (_, i) => fanout.join(controller.signal, () => called.push(i)));
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
  assert.equal(fanout.size(controller.signal), 600);
  // Finished requests leave: they must not be called.
  for (let i = 0; i < 600; i += 2) (leaves[i] as () => void)();
  assert.equal(fanout.size(controller.signal), 300);
  controller.abort();
  controller.abort();
  assert.equal(called.length, 300);
  assert.ok(called.every((i) => i % 2 === 1));
  assert.equal(fanout.size(controller.signal), 0);
});

test('a member that leaves while the abort is being delivered is still called once, and others are unaffected', () => {
  const fanout = new AbortFanout();
  const controller = new AbortController();
  let first = 0;
  let second = 0;
  let leaveSecond = (): void => {};
  fanout.join(controller.signal, () => {
    first++;
    leaveSecond(); // settling one request can finish another
  });
  leaveSecond = fanout.join(controller.signal, () => second++);
  controller.abort();
  assert.equal(first, 1);
  assert.equal(second, 1);
});

test('signals are kept apart', () => {
  const fanout = new AbortFanout();
  const a = new AbortController();
  const b = new AbortController();
  let calledA = 0;
  let calledB = 0;
  fanout.join(a.signal, () => calledA++);
  fanout.join(b.signal, () => calledB++);
  a.abort();
  assert.equal(calledA, 1);
  assert.equal(calledB, 0);
  assert.equal(fanout.size(b.signal), 1);
});
