/**
 * Relative paths that stay inside the folder they are joined to: what a manifest lists,
 * a storage key is built from, or a shard ships. Checked as text, before any join.
 */

/** A relative, `/`-separated path with no empty, `.` or `..` segment and no backslash or NUL. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}
