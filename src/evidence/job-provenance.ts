/**
 * Where the job came from: the job file's digest and, when the file is in a git
 * repository, the commit and whether the file differs from it. A claim run needs
 * its methodology pinned, and a commit is what pins it.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { sha256 } from '../base/digest.js';

export interface JobFileProvenance {
  /** As given on the command line. */
  path: string;
  /** Of the file's bytes. */
  sha256: string;
  git: {
    commit: string;
    /** The file's path inside the repository. */
    path_in_repo: string;
    /** True when the file is tracked and has no uncommitted change. */
    committed_unchanged: boolean;
  } | null;
}

const run = promisify(execFile);

export async function jobFileProvenance(path: string): Promise<JobFileProvenance> {
  const bytes = await readFile(path);
  return { path, sha256: sha256(bytes), git: await gitState(resolve(path)) };
}

async function gitState(absolutePath: string): Promise<JobFileProvenance['git']> {
  const cwd = dirname(absolutePath);
  const git = async (...args: string[]): Promise<string | null> => {
    try {
      return (await run('git', args, { cwd, timeout: 5000 })).stdout.trim();
    } catch {
      return null;
    }
  };
  const commit = await git('rev-parse', 'HEAD');
  if (commit === null) return null;
  const prefix = (await git('rev-parse', '--show-prefix')) ?? '';
  const name = basename(absolutePath);
  const tracked = (await git('ls-files', '--error-unmatch', '--', name)) !== null;
  const status = await git('status', '--porcelain', '--', name);
  return { commit, path_in_repo: `${prefix}${name}`, committed_unchanged: tracked && status === '' };
}
