/**
 * Where a storage credential comes from, in order: `outputLocation.parameters`
 * (as OME's examples put them), a `<parameter>_file` parameter naming a file that
 * holds it (how a Kubernetes secret is mounted), then the environment. Every
 * value read is registered with the redactor, so it cannot reach a log, an error
 * message or the run folder.
 */
import { readFileSync } from 'node:fs';
import { registerSecret } from '../base/redact.js';
import type { StoreOptions } from './object-store.js';
import { configError } from './storage-error.js';

/**
 * A parameter's value: `parameters[name]`, else the trimmed content of the file
 * `parameters[name + '_file']`, else the first set environment variable of `envNames`.
 */
export function credential(
  options: StoreOptions,
  display: string,
  name: string,
  envNames: string[] = [],
): string | undefined {
  const direct = options.parameters[name];
  if (direct !== undefined && direct !== '') return registerSecret(direct);
  const file = options.parameters[`${name}_file`];
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw configError(
        display,
        `parameters.${name}_file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (text === '') throw configError(display, `parameters.${name}_file: ${file} is empty`);
    return registerSecret(text);
  }
  for (const envName of envNames) {
    const value = options.env[envName];
    if (value !== undefined && value !== '') return registerSecret(value);
  }
  return undefined;
}

/** A parameter that is not a secret (region, profile, endpoint), from parameters or environment. */
export function setting(options: StoreOptions, name: string, envNames: string[] = []): string | undefined {
  const direct = options.parameters[name];
  if (direct !== undefined && direct !== '') return direct;
  for (const envName of envNames) {
    const value = options.env[envName];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}
