import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { expandVars, fieldValue, mapPath, PodUnrunnable } from './pod-sandbox.js';

test('paths equal to, under or above a mount go into the pod root; others stay', () => {
  const mounts = ['/etc/infermark', '/mnt/pvc/results', '/dev/termination-log'];
  const root = '/r';
  assert.equal(mapPath('/etc/infermark', mounts, root), '/r/etc/infermark');
  assert.equal(mapPath('/etc/infermark/job.yaml', mounts, root), '/r/etc/infermark/job.yaml');
  assert.equal(mapPath('/mnt/pvc', mounts, root), '/r/mnt/pvc');
  assert.equal(mapPath('/mnt/pvc/', mounts, root), '/r/mnt/pvc/');
  assert.equal(mapPath('/dev/termination-log', mounts, root), '/r/dev/termination-log');
  assert.equal(mapPath('--out=/mnt/pvc/results/x', mounts, root), '--out=/r/mnt/pvc/results/x');
  // A sibling sharing a prefix is not under the mount.
  assert.equal(mapPath('/etc/infermark2', mounts, root), '/etc/infermark2');
  assert.equal(mapPath('/usr/bin/env', mounts, root), '/usr/bin/env');
  assert.equal(mapPath('/', mounts, root), '/');
  assert.equal(mapPath('etc/infermark', mounts, root), 'etc/infermark');
  assert.equal(mapPath('run', mounts, root), 'run');
});

test('$(VAR) expands as Kubernetes does', () => {
  const env = { A: 'one', B: '' };
  assert.equal(expandVars('$(A)-$(B)-$(C)', env), 'one--$(C)');
  assert.equal(expandVars('$$(A) costs $$5', env), '$(A) costs $5');
  assert.equal(expandVars('plain', env), 'plain');
});

test('the downward API fields a pod may ask for', () => {
  const pod: V1Pod = {
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u-1',
      labels: { app: 'a' },
      annotations: { 'x.io/y': 'z' },
    },
    spec: { nodeName: 'n', serviceAccountName: 'sa', containers: [] },
  };
  const value = (fieldPath: string): string => fieldValue(pod, { fieldPath });
  assert.equal(value('metadata.name'), 'p');
  assert.equal(value('metadata.namespace'), 'ns');
  assert.equal(value('metadata.uid'), 'u-1');
  assert.equal(value('spec.nodeName'), 'n');
  assert.equal(value('spec.serviceAccountName'), 'sa');
  assert.equal(value('status.podIP'), '127.0.0.1');
  assert.equal(value('status.hostIP'), '127.0.0.1');
  assert.equal(value("metadata.labels['app']"), 'a');
  assert.equal(value("metadata.annotations['x.io/y']"), 'z');
  assert.equal(value("metadata.labels['absent']"), '');
  assert.throws(() => value('spec.priority'), PodUnrunnable);
});
