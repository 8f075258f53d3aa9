/**
 * The layering, as rules (docs/development.md#layering). The data path runs one way:
 * each folder of src/ may import only the folders before it in LAYERS; cli/ sits on top
 * and base/ at the bottom. The simulator is a product of its own that imports base/ only.
 * Test files (*.test.ts) assemble real parts from any layer and are free of these rules;
 * test support (testing/ folders) follows its folder's rules, and the product never
 * imports either.
 */
const LAYERS = [
  'base',
  'spec',
  'plan',
  'workload',
  'metrics',
  'backends',
  'evidence',
  'storage',
  'telemetry',
  'engine',
  'warehouse',
  'gate',
  'search',
  'diagnose',
  'slo',
  'report',
  'server',
  'k8s',
  'cli',
];
/** Folders outside the data path, with what each may import. */
const SIDE = { sim: ['base'], e2e: null };

const TEST_FILE = '\\.test\\.ts$';
const TEST_SUPPORT = '(^|/)testing/';
const alternation = (names) => `^src/(${names.join('|')})/`;
const ALL = [...LAYERS, ...Object.keys(SIDE)];

const layerRules = LAYERS.map((layer, i) => {
  const above = ALL.filter((name) => !LAYERS.slice(0, i + 1).includes(name));
  return {
    name: `layer-${layer}`,
    severity: 'error',
    comment:
      `${layer}/ may import only ${LAYERS.slice(0, i).join(', ') || 'nothing in src/'} ` +
      `(the data path runs one way; see docs/development.md#layering)`,
    from: { path: `^src/${layer}/`, pathNot: TEST_FILE },
    // Test support may bring up the simulator, the real server tests run against.
    to: { path: alternation(above), pathNot: `^src/sim/` },
  };
});
// The product itself may not import the simulator except where it serves it (cli/simulate).
const productNotSim = {
  name: 'product-not-sim',
  severity: 'error',
  comment: 'only the CLI starts the simulator; the data path never imports it',
  from: { path: alternation(LAYERS.filter((l) => l !== 'cli')), pathNot: [TEST_FILE, TEST_SUPPORT] },
  to: { path: '^src/sim/' },
};
const sideRules = Object.entries(SIDE)
  .filter(([, allowed]) => allowed !== null)
  .map(([side, allowed]) => ({
    name: `side-${side}`,
    severity: 'error',
    comment: `${side}/ may import only ${allowed.join(', ')}`,
    from: { path: `^src/${side}/`, pathNot: TEST_FILE },
    to: { path: alternation(ALL.filter((name) => name !== side && !allowed.includes(name))) },
  }));

module.exports = {
  forbidden: [
    ...layerRules,
    productNotSim,
    ...sideRules,
    {
      name: 'base-is-flat',
      severity: 'error',
      comment: 'no source files at the top of src/: every module belongs to a layer',
      from: { path: '^src/[^/]+\\.ts$', pathNot: TEST_FILE },
      to: {},
    },
    {
      name: 'parse-once',
      severity: 'error',
      comment:
        'the plan and the engine read the values the validator parsed (ValidatedJob.parsed); they never parse scenario, SLO or storage-URI strings',
      from: { path: '^src/(plan|engine)/', pathNot: TEST_FILE },
      to: { path: '^src/spec/(scenario|slo|storage-uri)\\.ts$' },
    },
    {
      name: 'product-not-test-support',
      severity: 'error',
      comment: 'the product never imports tests, fakes, fixtures or harnesses (they are not shipped)',
      from: { path: '^src/', pathNot: [TEST_FILE, TEST_SUPPORT, '^src/e2e/'] },
      to: { path: [TEST_FILE, TEST_SUPPORT, '^src/e2e/', '^bench/'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'modules that import each other cannot be read, tested or moved one at a time',
      from: { path: '^src/', pathNot: TEST_FILE },
      to: { circular: true },
    },
    {
      name: 'not-to-dev-dependency',
      severity: 'error',
      comment:
        'the product imports only packages in dependencies (devDependencies are not installed for users)',
      from: { path: '^src/', pathNot: [TEST_FILE, TEST_SUPPORT, '^src/e2e/'] },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that resolves to nothing',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
