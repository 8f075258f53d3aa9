/**
 * The dashboard's evidence page (`/runs/:id/evidence?path=P&line=N`): one raw
 * artifact of a run, read-only, from where the run's evidence is recorded
 * (artifact_lineage_dim.raw_uris: the local run folder first, then each store it
 * was uploaded to), with its sha256 checked against run_artifact and line N
 * highlighted and scrolled to. Only a path run_artifact lists for that run is
 * served, and only after it passes the safe-path check, so no request names a file
 * of its own choosing. A big file shows a window of lines around N; a gzip file
 * (`.prom.gz` scrapes) is shown decompressed; every line and byte read is bounded.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { digestFile } from '../base/digest.js';
import { isSafeArtifactPath } from '../evidence/manifest.js';
import { escapeHtml } from '../report/escape-html.js';
import { openLocation } from '../storage/open-location.js';
import { resolveRunId } from '../warehouse/queries.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { ApiError } from './api.js';
import { layout } from './pages.js';

export interface EvidenceRequest {
  path: string;
  line?: number;
}

/** Lines shown either side of the pointed one (and from the top when none is pointed). */
export const WINDOW_LINES = 200;
/** A line longer than this is cut (JSONL records of long streams can be large). */
export const MAX_LINE_CHARS = 16_384;
/** A store object larger than this is not fetched for display. */
export const MAX_FETCH_BYTES = 256 * 1024 * 1024;
/** Decompressed bytes read at most before giving up on reaching the line (a gzip bomb stops here). */
export const MAX_READ_BYTES = 512 * 1024 * 1024;

const bad = (message: string): ApiError => new ApiError(400, 'E_BAD_PARAM', message);

/** `?path=` (an artifact's run-folder path) and `?line=` (1-based), each once; nothing else. */
export function parseEvidenceParams(params: URLSearchParams): EvidenceRequest {
  for (const key of new Set(params.keys())) {
    if (key === 'token') continue;
    if (key !== 'path' && key !== 'line') throw bad('this page takes only path and line');
    if (params.getAll(key).length > 1) throw bad(`${key} given more than once`);
  }
  const path = params.get('path');
  if (path === null || path === '') throw bad('path is required (a run-folder path of the run’s artifacts)');
  if (path.length > 1000 || !isSafeArtifactPath(path)) {
    throw bad('path: expected a relative path inside the run folder (no "..", no leading "/")');
  }
  const out: EvidenceRequest = { path };
  const line = params.get('line');
  if (line !== null) {
    if (!/^\d{1,9}$/.test(line) || Number(line) < 1) throw bad('line: expected a whole number ≥ 1');
    out.line = Number(line);
  }
  return out;
}

export interface EvidenceView {
  run_id: string;
  path: string;
  line: number | null;
  /** Where the bytes were read: the run folder or store URI. */
  location: string;
  /** Other recorded locations that did not hold the file, with why. */
  skipped: string[];
  sha256_expected: string;
  sha256_actual: string;
  digest: 'ok' | 'changed';
  size_bytes: number;
  decompressed: boolean;
  /** 1-based number of `lines[0]`. */
  first_line: number;
  lines: string[];
  /** Lines cut at MAX_LINE_CHARS, by number. */
  cut: number[];
  /** Whether the file goes on past the window. */
  more: boolean;
  /** Whether line N exists (true when no line was asked for). */
  line_found: boolean;
}

interface Window {
  first_line: number;
  lines: string[];
  cut: number[];
  more: boolean;
  total_seen: number;
}

/** Lines `from`..`to` (1-based, inclusive) of a stream, each cut at MAX_LINE_CHARS, without holding more. */
async function readWindow(stream: AsyncIterable<Buffer>, from: number, to: number): Promise<Window> {
  const lines: string[] = [];
  const cut: number[] = [];
  let number = 1;
  let current: Buffer[] = [];
  let currentBytes = 0;
  let overflow = false;
  let read = 0;
  let more = false;
  const endLine = (): void => {
    if (number >= from && number <= to) {
      lines.push(Buffer.concat(current).toString('utf8'));
      if (overflow) cut.push(number);
    }
    number += 1;
    current = [];
    currentBytes = 0;
    overflow = false;
  };
  outer: for await (const chunk of stream) {
    read += chunk.length;
    let start = 0;
    for (let at = chunk.indexOf(10); ; at = chunk.indexOf(10, start)) {
      const end = at < 0 ? chunk.length : at;
      if (number >= from && number <= to && !overflow) {
        const room = MAX_LINE_CHARS - currentBytes;
        const piece = chunk.subarray(start, Math.min(end, start + room));
        current.push(piece);
        currentBytes += piece.length;
        if (end - start > room) overflow = true;
      }
      if (at < 0) break;
      endLine();
      start = at + 1;
      if (number > to) {
        more = start < chunk.length;
        break outer;
      }
    }
    if (read > MAX_READ_BYTES) {
      more = true;
      break;
    }
  }
  // A last line without a final newline.
  if (number <= to && currentBytes > 0) endLine();
  return { first_line: Math.max(1, from), lines, cut, more, total_seen: number - 1 };
}

/** The artifact's window of lines, decompressed for .gz; both streams closed however it ends. */
async function windowOf(file: string, gzip: boolean, from: number, to: number): Promise<Window> {
  const raw = createReadStream(file, { highWaterMark: 1 << 16 });
  const gunzip = gzip ? createGunzip() : null;
  try {
    if (gunzip) raw.on('error', (error) => gunzip.destroy(error));
    return await readWindow(gunzip ? raw.pipe(gunzip) : raw, from, to);
  } finally {
    gunzip?.destroy();
    raw.destroy();
  }
}

/** What the warehouse says of an artifact: its recorded digest and every place the run's evidence lies. */
export interface EvidenceSource {
  run_id: string;
  path: string;
  sha256: string;
  size_bytes: number;
  /** artifact_lineage_dim.raw_uris: local run folders (absolute paths) and store URIs. */
  uris: string[];
  /** The run's key prefix in a store: `<result_folder>/<run_id>`. */
  run_prefix: string;
}

/** The artifact as the warehouse records it; a path run_artifact does not list for the run is a 404. */
export async function locateEvidence(
  warehouse: Warehouse,
  id: string,
  request: EvidenceRequest,
): Promise<EvidenceSource> {
  const runId = await resolveRunId(warehouse, id);
  const artifact = (
    await warehouse.all('SELECT path, size_bytes, sha256 FROM run_artifact WHERE run_id = $1 AND path = $2', [
      runId,
      request.path,
    ])
  )[0];
  if (artifact === undefined) {
    throw new ApiError(
      404,
      'E_NO_ARTIFACT',
      `run ${runId} has no artifact ${JSON.stringify(request.path.slice(0, 200))} (see its raw artifacts on the run page)`,
    );
  }
  const lineage = (
    await warehouse.all('SELECT raw_uris, result_folder FROM artifact_lineage_dim WHERE run_id = $1', [runId])
  )[0];
  const uris = (Array.isArray(lineage?.raw_uris) ? lineage.raw_uris : []).map(String);
  return {
    run_id: runId,
    path: request.path,
    sha256: String(artifact.sha256),
    size_bytes: Number(artifact.size_bytes),
    uris,
    run_prefix: [lineage?.result_folder, runId].filter(Boolean).join('/'),
  };
}

/**
 * The artifact from the first recorded location that has it, checked and windowed.
 * Called outside the warehouse's queue: a store's download must not hold the warehouse.
 */
export async function readEvidence(source: EvidenceSource, request: EvidenceRequest): Promise<EvidenceView> {
  const skipped: string[] = [];
  // Local run folders first: no network, and it is where `run` wrote the evidence.
  const local = source.uris.filter((u) => u.startsWith('/'));
  for (const uri of [...local, ...source.uris.filter((u) => !u.startsWith('/'))]) {
    const found = uri.startsWith('/')
      ? await fromFolder(join(uri, source.path))
      : await fromStore(uri, `${source.run_prefix}/${source.path}`, source.size_bytes);
    if ('error' in found) {
      skipped.push(`${uri}: ${found.error}`);
      continue;
    }
    try {
      return await view(source.run_id, request, uri, skipped, found.file, source.sha256);
    } finally {
      await found.cleanup();
    }
  }
  throw new ApiError(
    404,
    'E_NO_EVIDENCE',
    `no recorded location of run ${source.run_id} holds ${source.path}${skipped.length > 0 ? ` (${skipped.join('; ')})` : ' (none recorded)'}`,
  );
}

type Found = { file: string; cleanup: () => Promise<void> } | { error: string };

async function fromFolder(file: string): Promise<Found> {
  const info = await lstat(file).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) return { error: info.code === 'ENOENT' ? 'missing' : 'unreadable' };
  if (!info.isFile()) return { error: 'not a plain file' };
  return { file, cleanup: async () => undefined };
}

/** A store's copy, fetched into a private temporary folder that is removed after the page is built. */
async function fromStore(uri: string, key: string, expectedBytes: number): Promise<Found> {
  if (expectedBytes > MAX_FETCH_BYTES) return { error: `larger than ${MAX_FETCH_BYTES} bytes` };
  let store: Awaited<ReturnType<typeof openLocation>> | null = null;
  const dir = await mkdtemp(join(tmpdir(), 'infermark-evidence-'));
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    store = await openLocation({ uri, source: { path: 'artifact_lineage_dim.raw_uris' } });
    const head = await store.head(key);
    if (head === null) {
      await cleanup();
      return { error: 'missing' };
    }
    if (head.size_bytes > MAX_FETCH_BYTES) {
      await cleanup();
      return { error: `larger than ${MAX_FETCH_BYTES} bytes` };
    }
    const file = join(dir, 'artifact');
    await store.get(key, file);
    return { file, cleanup };
  } catch (error) {
    await cleanup();
    return { error: `unreachable (${(error as Error).message.slice(0, 200)})` };
  } finally {
    await store?.close();
  }
}

async function view(
  runId: string,
  request: EvidenceRequest,
  location: string,
  skipped: string[],
  file: string,
  expected: string,
): Promise<EvidenceView> {
  const digests = await digestFile(file);
  const gzip = request.path.endsWith('.gz');
  const line = request.line ?? null;
  const from = line === null ? 1 : Math.max(1, line - WINDOW_LINES);
  const to = line === null ? 2 * WINDOW_LINES : line + WINDOW_LINES;
  let window: Window;
  try {
    window = await windowOf(file, gzip, from, to);
  } catch (error) {
    throw new ApiError(
      422,
      'E_EVIDENCE_UNREADABLE',
      `${request.path}: cannot be read${gzip ? ' as gzip' : ''} (${(error as Error).message.slice(0, 200)})`,
    );
  }
  return {
    run_id: runId,
    path: request.path,
    line,
    location,
    skipped,
    sha256_expected: expected,
    sha256_actual: digests.sha256,
    digest: digests.sha256 === expected ? 'ok' : 'changed',
    size_bytes: digests.size_bytes,
    decompressed: gzip,
    first_line: window.first_line,
    lines: window.lines,
    cut: window.cut,
    more: window.more,
    line_found: line === null || window.total_seen >= line,
  };
}

/** Scrolls to the pointed line even when the link had no `#L<n>` fragment. */
function scrollScript(line: number): string {
  // A record longer than the window wraps into a row taller than it: its start goes to the top.
  return `const l=document.getElementById('L${line}');if(l&&!location.hash)l.scrollIntoView({block:l.offsetHeight>innerHeight*0.8?'start':'center'});`;
}

export const EVIDENCE_CSS = `
table.lines{border-collapse:collapse;background:#fff;font:12px/1.35 ui-monospace,monospace;width:100%}
table.lines td{border:0;padding:0 8px;text-align:left;white-space:pre-wrap;word-break:break-all;vertical-align:top}
table.lines td.n{color:#57606a;text-align:right;user-select:none;width:1%;white-space:nowrap}
table.lines tr.hl td{background:#fff8c5}table.lines tr.hl td.n{font-weight:700;color:#1b1f24}
.digest-ok{color:#116329}.digest-changed{color:#cf222e;font-weight:700}`;

export function evidencePage(v: EvidenceView, nonce: string): string {
  const rows = v.lines
    .map((text, i) => {
      const n = v.first_line + i;
      const hl = n === v.line;
      const cut = v.cut.includes(n) ? ` … (cut at ${MAX_LINE_CHARS} bytes)` : '';
      return `<tr id="L${n}" data-testid="evidence-line" data-line="${n}"${hl ? ' class="hl" data-highlighted="true"' : ''}><td class="n"><a href="#L${n}">${n}</a></td><td>${escapeHtml(text)}${escapeHtml(cut)}</td></tr>`;
    })
    .join('\n');
  const last = v.first_line + v.lines.length - 1;
  const body = `<style>${EVIDENCE_CSS}</style>
<h1 data-testid="evidence-title">Evidence: <code>${escapeHtml(v.path)}</code>${v.line !== null ? ` line ${v.line}` : ''}</h1>
<p>Run <a href="/runs/${encodeURIComponent(v.run_id)}" data-testid="evidence-run">${escapeHtml(v.run_id)}</a> · read from <code data-testid="evidence-location">${escapeHtml(v.location)}</code> · ${escapeHtml(v.size_bytes)} bytes${v.decompressed ? ' (gzip, shown decompressed)' : ''}</p>
<p data-testid="evidence-digest" data-state="${v.digest}" class="digest-${v.digest}">sha256 ${v.digest === 'ok' ? 'ok: the file is what the run recorded' : 'CHANGED: the file is not what the run recorded'} (recorded <code>${escapeHtml(v.sha256_expected)}</code>${v.digest === 'ok' ? '' : `, found <code>${escapeHtml(v.sha256_actual)}</code>`})</p>
${v.skipped.length > 0 ? `<p>Not found at: ${v.skipped.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}</p>` : ''}
${v.line_found ? '' : `<p class="err" data-testid="evidence-no-line">Line ${escapeHtml(v.line)} is past the end of the file (${escapeHtml(v.first_line + v.lines.length - 1)} lines).</p>`}
<p>Lines ${v.lines.length === 0 ? 'none' : `${v.first_line}–${last}`}${v.first_line > 1 ? ' (earlier lines not shown)' : ''}${v.more ? ' (the file goes on past them)' : ''}.</p>
<table class="lines" data-testid="evidence-lines"><tbody>${rows}</tbody></table>`;
  return layout(`Evidence ${v.path}`, body, nonce, v.line !== null ? scrollScript(v.line) : '');
}
