// The run's telemetry targets, as one process and a split run's coordinator both take them:
// the key only where the requests go, one bounded probe of each target (a raw node:http
// exporter on loopback that answers, and a closed port that does not), the user told of the
// one not scraped with its URL redacted, and only the targets that answered scraped.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { takeAnchor } from '../base/clock.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { probeNotices, probeTelemetry, runTelemetryTargets, scrapeTargets } from './run-telemetry.js';

test('targets get the key only on the endpoint`s origin; a target that does not answer is not scraped, and said so', async () => {
  let asked = 0;
  const server = createServer((_req, res) => {
    asked++;
    res.end('up 1\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port that was free a moment ago: nothing listens there now.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadUrl = `http://user:pw@127.0.0.1:${(closed.address() as AddressInfo).port}/metrics`;
  await new Promise((resolve) => closed.close(resolve));
  try {
    const job = jobFromCli({
      url: base,
      model: 'sim',
      scenarios: ['D(8,8)'],
      concurrency: [1],
      maxRequests: 1,
      metricsIntervalSeconds: 0.5,
      telemetry: [`gpu=${deadUrl}`],
    });
    const auth = { authorization: 'Bearer k' };
    const targets = runTelemetryTargets(job.spec, resolveEndpoint(job, {}), auth);
    assert.deepEqual(
      targets.map((t) => [t.name, t.role, t.implicit, t.headers]),
      [
        ['gpu', 'gpu', false, {}],
        ['server', 'server', true, auth],
      ],
    );
    const probes = await probeTelemetry(targets);
    assert.equal(asked, 1, 'one GET of the live target');
    assert.deepEqual(
      probes.map((p) => p.ok),
      [false, true],
    );
    const notices = probeNotices(targets, probes);
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /^telemetry target gpu not scraped \(http:\/\/\S*127\.0\.0\.1:\d+\/metrics: /);
    assert.ok(!notices[0]!.includes('pw'), 'no userinfo in the notice');
    const anchor = takeAnchor();
    assert.deepEqual(scrapeTargets(targets, probes, job.spec, anchor), [
      {
        url: `${base}/metrics`,
        headers: auth,
        target: { name: 'server', role: 'server', labels: {} },
        intervalMs: 500,
        anchor,
      },
    ]);
  } finally {
    server.close();
  }
});
