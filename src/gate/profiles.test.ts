// A profile that keeps some of a job's scenarios keeps their parsed values in step: the plan runs those, no others.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPlan } from '../plan/build-plan.js';
import { jobFromCli } from '../spec/cli-job.js';
import { applyProfile } from './profiles.js';

test('applyProfile filters the parsed scenarios with the list', () => {
  const job = jobFromCli({ url: 'http://h', model: 'm', scenarios: ['D(1,2)', 'D(3,4)', 'D(5,6)'] });
  const profiled = applyProfile(
    job,
    { name: 'ci', repeats: 3, mode: 'regression', scenarios: ['D(5,6)', 'D(1,2)'] },
    'job.yaml',
  );
  assert.deepEqual(profiled.spec.trafficScenarios, ['D(1,2)', 'D(5,6)']);
  assert.deepEqual(profiled.parsed.scenarios, [
    { text: 'D(1,2)', scenario: { kind: 'D', input: 1, output: 2 } },
    { text: 'D(5,6)', scenario: { kind: 'D', input: 5, output: 6 } },
  ]);
  assert.deepEqual(
    buildPlan(profiled).map((plan) => plan.scenario),
    ['D(1,2)', 'D(5,6)'],
  );
  assert.equal(profiled.spec.repeats, 3);
  // Without a scenario filter the parsed values are the job's own.
  const all = applyProfile(job, { name: 'pr', repeats: 7, mode: 'regression' }, 'job.yaml');
  assert.equal(all.parsed, job.parsed);
});
