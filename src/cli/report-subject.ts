/**
 * What `report` and its `--vs` accept besides an id: the run folder that `run`
 * prints, or a run group's folder. The folder is read only for its id (run.json's
 * run_id, group.json's run_group_id); the report itself still comes from the warehouse.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.js';
import { GROUP_FILE } from '../engine/run-group.js';

export interface ReportSubject {
  /** A run_id, a run_group_id or a prefix, as the warehouse resolves it. */
  id: string;
  /** The folder it was read from, when the argument was a folder. */
  folder?: string;
}

const RUN_FILE = 'run.json';

/** An id as given, or the id a run or run group folder names; bad input exits 2. */
export async function reportSubject(argument: string, flag: string): Promise<ReportSubject> {
  const info = await stat(argument).catch(() => undefined);
  if (info === undefined) {
    if (looksLikePath(argument)) {
      throw new ValidationError([
        {
          path: flag,
          value: argument,
          message: 'no such folder (expected a run folder, a run group folder, a run_id or a run_group_id)',
        },
      ]);
    }
    return { id: argument };
  }
  if (!info.isDirectory()) {
    throw new ValidationError([
      {
        path: flag,
        value: argument,
        message: `is a file: expected a run folder (holding ${RUN_FILE}) or a run group folder (holding ${GROUP_FILE})`,
      },
    ]);
  }
  const run = await idIn(join(argument, RUN_FILE), 'run_id', flag);
  if (run !== undefined) return { id: run, folder: argument };
  const group = await idIn(join(argument, GROUP_FILE), 'run_group_id', flag);
  if (group !== undefined) return { id: group, folder: argument };
  throw new ValidationError([
    {
      path: flag,
      value: argument,
      message: `holds neither ${RUN_FILE} (a run folder) nor ${GROUP_FILE} (a run group folder)`,
    },
  ]);
}

/** The string `field` of a JSON file, undefined when the file is absent; unreadable or wrong: exit 2. */
async function idIn(file: string, field: string, flag: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ValidationError([
      { file, path: flag, message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}` },
    ]);
  }
  let value: unknown;
  try {
    value = (JSON.parse(text) as Record<string, unknown>)[field];
  } catch {
    throw new ValidationError([{ file, path: field, message: 'the file is not valid JSON' }]);
  }
  if (typeof value !== 'string' || value === '') {
    throw new ValidationError([{ file, path: field, value, message: 'expected the id as a string' }]);
  }
  return value;
}

/** Ids hold no separators and never start with a dot, so such an argument was meant as a folder. */
function looksLikePath(argument: string): boolean {
  return /[/\\]/.test(argument) || argument.startsWith('.') || argument.startsWith('~');
}
