import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';

/**
 * The on-disk format of the in-process bus: append-only files of records, one per line, each line
 * `<crc32 of the JSON, 8 hex digits> <JSON>\n`. `JSON.stringify` never emits a raw newline, so a
 * line is a record, the files stay readable with `cat`, and a reader recognises the end of the
 * valid data: a last line without its newline (a write cut short by a crash) or with a checksum
 * that does not match (pages lost by an OS crash without fsync). Everything from there on is
 * dropped and the file is truncated to its valid prefix, as Kafka recovers a log after an unclean
 * shutdown.
 *
 * Durability: after `write()` returns, the bytes are in the page cache, which survives a process
 * crash (`kill -9`). Surviving an OS crash or power loss also needs `fsync`, which `fsync: 'always'`
 * does after every append, at the cost of a disk flush per message.
 */

export type FsyncMode = 'always' | 'never';

const NEWLINE = 0x0a;
const CRC_HEX_CHARS = 8;

export function encodeRecordLine(json: string): Buffer {
  const crc = crc32(json).toString(16).padStart(CRC_HEX_CHARS, '0');
  return Buffer.from(`${crc} ${json}\n`, 'utf8');
}

function decodeRecordLine(line: string): unknown {
  if (line.length <= CRC_HEX_CHARS + 1 || line[CRC_HEX_CHARS] !== ' ') return undefined;
  const json = line.slice(CRC_HEX_CHARS + 1);
  if (crc32(json) !== Number.parseInt(line.slice(0, CRC_HEX_CHARS), 16)) return undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

export interface RecordFileScan {
  /** The parsed records of the valid prefix, with the bytes of each line. */
  records: { value: unknown; bytes: number }[];
  validBytes: number;
  totalBytes: number;
}

/**
 * Reads a record file up to its first invalid line. `accept` may reject a well-formed record
 * (say, an offset out of sequence), which ends the valid prefix just the same.
 */
export function scanRecordFile(
  path: string,
  accept: (value: unknown, index: number) => boolean = () => true,
): RecordFileScan {
  const data = readFileSync(path);
  const records: RecordFileScan['records'] = [];
  let position = 0;
  while (position < data.length) {
    const end = data.indexOf(NEWLINE, position);
    if (end === -1) break;
    const value = decodeRecordLine(data.toString('utf8', position, end));
    if (value === undefined || !accept(value, records.length)) break;
    records.push({ value, bytes: end + 1 - position });
    position = end + 1;
  }
  return { records, validBytes: position, totalBytes: data.length };
}
