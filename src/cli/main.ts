#!/usr/bin/env node
/**
 * The infermark CLI. This file only parses: each command's action imports its
 * module lazily, and errors become exit codes here and nowhere else (exit 2 for
 * bad input with no stack trace unless --debug).
 */
import { Command } from 'commander';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { infermarkVersion } from '../evidence/environment.js';
import { scrubText } from '../base/redact.js';
import { isDuckDbError } from '../warehouse/warehouse-errors.js';
import { collect, defineDemoCommand, defineRunCommand } from './run-flags.js';

const program = new Command()
  .name('infermark')
  .description('Benchmark LLM inference serving: BenchmarkJob runs, raw evidence, honest metrics.')
  .version(infermarkVersion())
  .option('--debug', 'show stack traces for errors')
  .showHelpAfterError();

defineRunCommand(program.command('run')).action(async (job, flags) => {
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

defineDemoCommand(program.command('demo')).action(async (flags) => {
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
  .command('merge')
  .description("write a split run's merged folder from its shard folders (records, summaries, seal)")
  .argument('<run-dir>', 'the split run folder (its shards in shards/000, shards/001, ...)')
  .option('--json', 'print the merged run as JSON')
  .action(async (dir: string, flags) => {
    const { mergeCommand } = await import('./merge.js');
    process.exitCode = await mergeCommand(dir, flags);
  });

program
  .command('controller')
  .description('the Kubernetes controller: runs every BenchmarkJob applied to the cluster (docs/k8s.md)')
  .option('-n, --namespace <ns>', 'watch one namespace (default: all namespaces)')
  .option('-A, --all-namespaces', 'watch every namespace (the default)')
  .option(
    '-l, --selector <labels>',
    "only BenchmarkJobs with these labels (a=b,c!=d), to run beside OME's controller",
  )
  .option('--image <image>', "the benchmark image when podOverride names none (default: this version's)")
  .option('--lease-namespace <ns>', "the Lease's namespace (default: INFERMARK_NAMESPACE, else default)")
  .option('--identity <id>', 'this replica in the Lease (default: INFERMARK_POD_NAME, else host-pid)')
  .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config, else in-cluster)')
  .option('--context <name>', 'kubeconfig context')
  .option('--resync-seconds <s>', 'look at every BenchmarkJob this often without an event (default 30)')
  .option('--lease-duration-seconds <s>', 'how long a silent leader keeps the Lease (default 15)')
  .option('--coordinator-port <port>', "a split run's coordinator port in its pod (default 7700)")
  .action(async (flags) => {
    const { controllerCommand } = await import('./controller.js');
    process.exitCode = await controllerCommand(flags);
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

(await import('./diagnose.js')).registerDiagnoseCommand(program);

(await import('./slo.js')).registerSloCommands(program);
(await import('./search.js')).registerSearchCommand(program);

const { registerSimulateCommand } = await import('./simulate.js');
registerSimulateCommand(program);

(await import('./serve.js')).registerServeCommand(program);

(await import('./tools.js')).registerToolsCommands(program);

(await import('./mcp.js')).registerMcpCommand(program);

(await import('./k8s.js')).registerK8sCommands(program);

program
  .command('shard', { hidden: true })
  .description('run one shard of a split run for its coordinator (started by run --workers)')
  .requiredOption('--coordinator <url>', "the coordinator's URL")
  .requiredOption('--shard <index>', 'this shard (0-based)')
  .option('--stop-with-parent', 'end the iteration and seal when stdin (a pipe from the parent) closes')
  .action(async (flags: { coordinator: string; shard: string; stopWithParent?: boolean }) => {
    const { shardCommand } = await import('./shard.js');
    process.exitCode = await shardCommand(flags);
  });

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
