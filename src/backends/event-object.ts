/**
 * The JSON object of one stream event or body, for the dialects that read whole objects
 * (Cohere, OCI): anything else marks the chunk `invalid` with a message the request handler
 * classifies as a protocol error, never a throw.
 */
import { ChunkType, reset, type ChunkInfo } from './sse-parser.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The event or body as an object, or null with `out` set to `invalid`. */
export function parseObject(text: string, out: ChunkInfo): Obj | null {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    reset(out, ChunkType.invalid);
    out.message = `unparseable stream event: ${text}`;
    return null;
  }
  if (!isObj(obj)) {
    reset(out, ChunkType.invalid);
    out.message = `stream event is not a JSON object: ${text}`;
    return null;
  }
  return obj;
}
