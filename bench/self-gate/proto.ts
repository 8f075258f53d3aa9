import { measureOverhead, measureTiming } from './overhead.js';
import { runSoak } from './soak.js';
const what = process.argv[2];
const t0 = Date.now();
if (what === 'overhead') console.log(await measureOverhead({ streams: [8, 64], requests: Number(process.argv[3] ?? 2000), warmupRequests: 1000, inputTokens: 16, outputTokens: 64 }));
if (what === 'timing') console.log(await measureTiming({ ttftMs: 100, itlMs: 10, concurrency: 32, requests: 320, warmupRequests: 32, outputTokens: [30, 70] }));
if (what === 'soak') { const r = await runSoak({ referenceRps: 10, records: Number(process.argv[3] ?? 50000), maxSeconds: 60, concurrency: 64, inputTokens: 16, outputTokens: Number(process.argv[4] ?? 16), rolloverRecords: 5000, retentionMaxSegments: 4, retentionMaxBytes: 64 * 2 ** 20, rssSampleMs: 100 }, console.error); console.log({ ...r, samples: r.samples.length }); }
console.log('elapsed', (Date.now() - t0) / 1000);
