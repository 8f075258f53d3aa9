/**
 * The importers, by the name `--from` takes (a typed map: adding one is one file
 * plus one line), and `importInput`, which reads an input with one and writes its rows.
 */
import {
  writeImport,
  type ImportedRun,
  type ImportOptions,
  type ImportResult,
  type ImportSource,
} from './import-common.js';
import { readGeneric } from './import-generic.js';
import { readGenaiBench } from './import-genai-bench.js';
import { readVllm } from './import-vllm.js';
import type { Warehouse } from './warehouse.js';

export interface Importer {
  description: string;
  read(warehouse: Warehouse, path: string, options: ImportOptions): Promise<ImportedRun>;
}

export const IMPORTERS: Readonly<Record<ImportSource, Importer>> = {
  vllm: {
    description:
      "vLLM's serving benchmark result JSON (benchmark_serving.py / vllm bench serve --save-result)",
    read: (_warehouse, path) => readVllm(path),
  },
  'genai-bench': {
    description: 'a genai-bench experiment folder (experiment_metadata.json and one JSON per run)',
    read: (_warehouse, path) => readGenaiBench(path),
  },
  generic: {
    description:
      'infermark-generic/v1 JSON, <table>.csv files, or a folder of them (docs/warehouse-import.md)',
    read: (warehouse, path, options) => readGeneric(warehouse, path, options),
  },
};

/** Imports one input: reads it with the source's importer and writes its rows (idempotent). */
export async function importInput(
  warehouse: Warehouse,
  source: ImportSource,
  path: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const imported = await IMPORTERS[source].read(warehouse, path, options);
  return writeImport(warehouse, imported, path, options);
}
