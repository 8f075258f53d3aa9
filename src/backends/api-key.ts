/**
 * Where the API key comes from: the job's `apiKey` (env var, file, or a Kubernetes
 * secret the controller mounts as INFERMARK_API_KEY), else INFERMARK_API_KEY or (for an
 * OpenAI-format endpoint only) OPENAI_API_KEY from the environment. The key itself is never
 * printed or stored. An oci-cohere endpoint signs its requests and gets no key at all: an
 * OpenAI key from the shell must never travel to Cohere or Oracle.
 */
import { readFile } from 'node:fs/promises';
import { ValidationError } from '../base/errors.js';
import { registerSecret } from '../base/redact.js';
import type { BenchmarkJobSpec } from '../spec/job-schema.js';

/** The variable the controller sets from `apiKey.secretRef`. */
export const API_KEY_ENV = 'INFERMARK_API_KEY';

export async function resolveApiKey(
  source: BenchmarkJobSpec['apiKey'],
  env: NodeJS.ProcessEnv = process.env,
  apiFormat: string = 'openai',
): Promise<string | undefined> {
  if (apiFormat === 'oci-cohere') return undefined;
  const key = await readApiKey(source, env, apiFormat);
  // Registered with the redactor: no log line, error or artifact can carry it from here on.
  return key === undefined ? undefined : registerSecret(key);
}

async function readApiKey(
  source: BenchmarkJobSpec['apiKey'],
  env: NodeJS.ProcessEnv,
  apiFormat: string,
): Promise<string | undefined> {
  if (!source)
    return env[API_KEY_ENV] || (apiFormat === 'openai' ? env.OPENAI_API_KEY : undefined) || undefined;
  if (source.env) {
    const value = env[source.env];
    if (!value) throw missing('spec.apiKey.env', source.env, `environment variable ${source.env} is not set`);
    return value;
  }
  if (source.file) {
    try {
      const value = (await readFile(source.file, 'utf8')).trim();
      if (!value) throw new Error('empty');
      return value;
    } catch (error) {
      throw missing(
        'spec.apiKey.file',
        source.file,
        `cannot read a key from it (${(error as Error).message})`,
      );
    }
  }
  if (source.secretRef) {
    const value = env[API_KEY_ENV];
    if (!value) {
      throw missing(
        'spec.apiKey.secretRef',
        `${source.secretRef.name}/${source.secretRef.key}`,
        `the secret is mounted as ${API_KEY_ENV} inside the cluster; outside it set ${API_KEY_ENV} or use apiKey.env`,
      );
    }
    return value;
  }
  return undefined;
}

function missing(path: string, value: string, message: string): ValidationError {
  return new ValidationError([{ path, value, message }]);
}
