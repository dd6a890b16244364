/**
 * File paths in a user's namespace. A path is what a client names a file by, and every client
 * turns it into a path on its own disk, so the server refuses anything that would escape the
 * folder or fail on a common filesystem: `.`/`..` segments, empty segments, backslashes, control
 * characters, Windows' reserved names and trailing dots or spaces, over-long names. Unicode is
 * normalised to NFC, so `é` typed as one code point or as `e` + combining accent is one file
 * (macOS writes the decomposed form). Stored paths have no leading or trailing `/`.
 */

export const MAX_PATH_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_DEPTH = 32;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const RESERVED_WINDOWS_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
// C0 and C1 controls, DEL, and the characters Windows forbids in names.
const FORBIDDEN_CHARACTER = /[\p{Cc}\\:*?"<>|]/u;

export class InvalidPathError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`invalid path: ${reason}`);
  }
}

/** The canonical form of `raw`, or InvalidPathError naming why not. */
export function normalisePath(raw: string): string {
  if (LONE_SURROGATE.test(raw)) throw new InvalidPathError(raw, 'the path is not well-formed Unicode');
  const path = raw.normalize('NFC').replace(/^\/+/, '');
  if (path.length === 0) throw new InvalidPathError(raw, 'the path is empty');
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) {
    throw new InvalidPathError(raw, `the path is longer than ${MAX_PATH_BYTES} bytes`);
  }
  const segments = path.split('/');
  if (segments.length > MAX_PATH_DEPTH) {
    throw new InvalidPathError(raw, `the path is deeper than ${MAX_PATH_DEPTH} folders`);
  }
  for (const segment of segments) checkSegment(raw, segment);
  return path;
}

function checkSegment(raw: string, segment: string): void {
  if (segment.length === 0)
    throw new InvalidPathError(raw, 'the path has an empty segment (// or a trailing /)');
  if (segment === '.' || segment === '..') throw new InvalidPathError(raw, 'the path has a . or .. segment');
  if (FORBIDDEN_CHARACTER.test(segment)) {
    throw new InvalidPathError(raw, 'a name may not contain control characters nor \\ : * ? " < > |');
  }
  if (RESERVED_WINDOWS_NAME.test(segment)) throw new InvalidPathError(raw, `${segment} is a reserved name`);
  if (/[. ]$/.test(segment)) throw new InvalidPathError(raw, 'a name may not end with a dot or a space');
  if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
    throw new InvalidPathError(raw, `a name is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
}

/** True when `path` already is in canonical form (a client's own check before it syncs a file). */
export function isValidPath(path: string): boolean {
  try {
    return normalisePath(path) === path;
  } catch {
    return false;
  }
}

/**
 * The name of a conflicted copy, as Dropbox names them:
 * `notes (conflicted copy from laptop 2026-12-07).txt`, and ` 2`, ` 3`... when that exists.
 * The device name is cut so the result stays a valid path.
 */
export function conflictCopyPath(path: string, device: string, date: Date, attempt: number): string {
  const slash = path.lastIndexOf('/');
  const folder = slash === -1 ? '' : path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const hasExtension = dot > 0 && name.length - dot <= 16;
  const stem = hasExtension ? name.slice(0, dot) : name;
  const extension = hasExtension ? name.slice(dot) : '';
  const safeDevice =
    device
      .replace(/[^A-Za-z0-9._ -]/g, '_')
      .slice(0, 32)
      .trim() || 'device';
  const day = date.toISOString().slice(0, 10);
  const suffix = ` (conflicted copy from ${safeDevice} ${day}${attempt > 1 ? ` ${attempt}` : ''})`;
  const stemBudget = MAX_SEGMENT_BYTES - Buffer.byteLength(suffix + extension, 'utf8');
  return `${folder}${truncateUtf8(stem, stemBudget)}${suffix}${extension}`;
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let result = '';
  for (const character of text) {
    if (Buffer.byteLength(result + character, 'utf8') > maxBytes) break;
    result += character;
  }
  return result;
}
