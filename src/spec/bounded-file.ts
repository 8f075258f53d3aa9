/**
 * A local file's text, read with a byte bound: a named pipe or /dev/zero never ends, and a
 * file a user points at by mistake (a model, a log) must be refused unread, not loaded.
 * Every failure is a validation error naming the file and what it was read as.
 */
import { open } from 'node:fs/promises';
import { ValidationError } from '../base/errors.js';

/** The text of `path`, at most `maxBytes`; `what` names the file in messages ("the job file"). */
export async function readBoundedText(path: string, maxBytes: number, what: string): Promise<string> {
  const refuse = (message: string): never => {
    throw new ValidationError([{ file: path, path: '', message }]);
  };
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(`cannot read ${what}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(error))}`);
  }
  try {
    const chunks: Buffer[] = [];
    let length_bytes = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length_bytes += bytesRead;
      if (length_bytes > maxBytes)
        refuse(`the file is larger than ${maxBytes} bytes, the most ${what} holds`);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(`cannot read ${what}: ${code === 'EISDIR' ? 'it is a folder' : (code ?? String(error))}`);
  } finally {
    await handle.close();
  }
}
