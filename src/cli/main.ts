#!/usr/bin/env node
/**
 * The infermark CLI. This file only parses: each command's action imports its
 * module lazily, and errors become exit codes here and nowhere else (exit 2 for
 * bad input with no stack trace unless --debug).
 */
import { Command, Option } from 'commander';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { infermarkVersion } from '../evidence/environment.js';
import { scrubText } from '../base/redact.js';
import { isDuckDbError } from '../warehouse/warehouse-errors.js';

const DEFAULT_OUT = '.infermark/runs';

const program = new Command()
  .name('infermark')
  .description('Benchmark LLM inference serving: BenchmarkJob runs, raw evidence, honest metrics.')
  .version(infermarkVersion())
  .option('--debug', 'show stack traces for errors')
  .showHelpAfterError();

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

program
  .command('run')
  .description('run a BenchmarkJob (job.yaml), or one built from flags')
  .argument('[job]', 'BenchmarkJob YAML file')
  .option('--url <url>', "endpoint URL (overrides the job's, e.g. outside the cluster)")
  .option('--model <name>', "model name (overrides the job's)")
  .option('--scenario <scenario>', "traffic scenario, e.g. 'D(100,100)' (repeatable)", collect)
  .option('--concurrency <list>', 'concurrency levels, e.g. 1,4,16')
  .option('--rate <list>', 'open-loop request rates in req/s, e.g. 5,10')
  .option('--arrival <distribution>', 'arrivals for --rate: constant, poisson or gamma')
  .option('--burstiness <shape>', 'gamma shape for --arrival gamma (1 = poisson)')
  .option('--trace <file>', 'replay a trace file (Mooncake JSONL or Azure CSV)')
  .option('--dataset <file>', 'dataset file (ShareGPT JSONL) for the dataset scenario')
  .option('--task <task>', 'text-to-text, text-to-embeddings, image-to-text, image-to-embeddings')
  .option('--max-requests <n>', 'measured requests per iteration')
  .option('--max-time <minutes>', 'time limit per iteration, minutes')
  .option('--warmup-requests <n>', 'warmup requests per iteration (not measured)')
  .option('--warmup-seconds <s>', 'warmup seconds per iteration (not measured)')
  .option('--slo <slo>', "goodput SLO, e.g. 'p99_ttft_ms<=500' (repeatable)", collect)
  .option('--seed <n>', 'workload seed')
  .option('--repeats <k>', "run the whole job K times, one run group (overrides the job's)")
  .option('--tokenizer <name|file>', 'o200k_base, cl100k_base, or a tokenizer.json')
  .option('--no-stream', 'send non-streaming requests')
  .option('--no-ignore-eos', 'do not ask the server to ignore EOS')
  .option('--timeout <s>', 'per-request timeout, seconds')
  .option('--api <api>', 'chat or completions, when the URL does not say')
  .option('--api-key-env <var>', 'read the API key from this environment variable')
  .option('--api-key-file <file>', 'read the API key from this file')
  .option('--metrics-url <url>', 'server Prometheus endpoint to scrape')
  .option(
    '--metrics-interval <s>',
    'seconds between scrapes of the server metrics during an iteration (default 2)',
  )
  .option('--param <key=value>', 'extra request body parameter (repeatable)', collect)
  .option(
    '--max-error-rate <ratio>',
    'fail the run (exit 1) when errored / (completed + errored) measured requests is above this, 0..1 (default 0.5)',
  )
  .option('--no-preflight', 'do not check the model name against GET /v1/models before the run')
  .option('--out <dir>', 'parent folder of run folders', DEFAULT_OUT)
  .option(
    '--warehouse <path>',
    'ingest the run into this warehouse (default: $INFERMARK_WAREHOUSE or the user data dir)',
  )
  .option('--no-warehouse', 'do not ingest the run into the warehouse')
  .option('--metrics-port <port>', 'serve hot metrics for Prometheus at /metrics on this port during the run')
  .option('--metrics-host <host>', 'interface for --metrics-port', '127.0.0.1')
  .option('--json', 'print the result as JSON on stdout')
  .option('--quiet', 'no progress output')
  .action(async (job: string | undefined, flags) => {
    const { runCommand } = await import('./run.js');
    process.exitCode = await runCommand(job, flags);
  });

program
  .command('validate')
  .description('validate BenchmarkJob files without sending load')
  .argument('<jobs...>', 'BenchmarkJob YAML files')
  .action(async (files: string[]) => {
    const { validateCommand } = await import('./validate.js');
    process.exitCode = await validateCommand(files);
  });

program
  .command('demo')
  .description('start the simulator on loopback and run examples/demo.yaml against it')
  .addOption(new Option('--out <dir>', 'parent folder of run folders').default(DEFAULT_OUT))
  .option(
    '--warehouse <path>',
    'ingest the run into this warehouse (default: $INFERMARK_WAREHOUSE or the user data dir)',
  )
  .option('--no-warehouse', 'do not ingest the run into the warehouse')
  .option('--metrics-port <port>', 'serve hot metrics for Prometheus at /metrics on this port during the run')
  .option('--metrics-host <host>', 'interface for --metrics-port', '127.0.0.1')
  .option('--json', 'print the result as JSON on stdout')
  .option('--quiet', 'no progress output')
  .action(async (flags) => {
    const { demoCommand } = await import('./demo.js');
    process.exitCode = await demoCommand(flags);
  });

program
  .command('verify')
  .description('check a run folder: what is complete, partial or corrupt (exit 0, 3 or 1)')
  .argument('<run-dir>', 'run folder')
  .option('--json', 'print the report as JSON')
  .action(async (dir: string, flags) => {
    const { verifyCommand } = await import('./verify.js');
    process.exitCode = await verifyCommand(dir, flags);
  });

program
  .command('upload')
  .description("ship a sealed run folder to storage (default: the run's outputLocation)")
  .argument('<run-dir>', 'run folder')
  .argument('[uri]', 'storage URI: s3://, az://, gs://, oci://, github://, pvc:// or a local folder')
  .option('--param <name=value>', 'storage parameter, e.g. aws_region=us-east-1 (repeatable)', collect)
  .option('--folder <name>', "folder above <run_id>/ in the store (the job's resultFolderName)")
  .option('--json', 'print the result as JSON')
  .option('--quiet', 'no retry notices')
  .action(async (dir: string, uri: string | undefined, flags) => {
    const { uploadCommand } = await import('./upload.js');
    process.exitCode = await uploadCommand(dir, uri, flags);
  });

program
  .command('download')
  .description('fetch an uploaded run and verify it')
  .argument('<uri>', 'the storage URI it was uploaded to')
  .argument('<run>', 'the run within it: [folder/]<run_id>')
  .argument('[dir]', 'local folder (default: ./<run_id>)')
  .option('--param <name=value>', 'storage parameter (repeatable)', collect)
  .option('--json', 'print the verify report as JSON')
  .action(async (uri: string, run: string, dir: string | undefined, flags) => {
    const { downloadCommand } = await import('./upload.js');
    process.exitCode = await downloadCommand(uri, run, dir, flags);
  });

const { registerGateCommands } = await import('./gate.js');
registerGateCommands(program);

const { registerWarehouseCommands } = await import('./warehouse.js');
registerWarehouseCommands(program);

(await import('./report.js')).registerReportCommand(program);

const { registerSimulateCommand } = await import('./simulate.js');
registerSimulateCommand(program);

(await import('./serve.js')).registerServeCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const debug = program.opts<{ debug?: boolean }>().debug === true || process.argv.includes('--debug');
  if (error instanceof InfermarkError) {
    process.stderr.write(`infermark: ${scrubText(error.message)}\n`);
    if (debug && error.stack) process.stderr.write(`${scrubText(error.stack)}\n`);
    // A wrapped error (DuckDB's, a file system's) keeps its own stack as the cause.
    const cause = (error as { cause?: unknown }).cause;
    if (debug && cause instanceof Error && cause.stack)
      process.stderr.write(`caused by: ${scrubText(cause.stack)}\n`);
    process.exitCode = error.exitCode;
  } else if (isDuckDbError(error)) {
    // A DuckDB error that no warehouse call wrapped (one without the file's path): still not "internal".
    process.stderr.write(`infermark: warehouse (DuckDB): ${scrubText(error.message)} (E_DUCKDB)\n`);
    if (debug && error.stack) process.stderr.write(`${scrubText(error.stack)}\n`);
    process.exitCode = ExitCode.failure;
  } else {
    process.stderr.write(
      `infermark: internal error: ${scrubText((error as Error)?.message ?? String(error))}\n`,
    );
    process.stderr.write(
      debug ? `${scrubText(String((error as Error)?.stack))}\n` : '(run with --debug for the stack trace)\n',
    );
    process.exitCode = ExitCode.failure;
  }
}
