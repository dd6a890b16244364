import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resultsDir } from '../paths.js';
import { describeEnvironment } from '../report.js';
import type { PeerDesign, PeerDesignResult, PeerTable } from './design.js';

/** The installed version of a peer, read from load-tests' own node_modules. */
export function installedVersion(packageName: string): string {
  const manifestUrl = new URL(`../../node_modules/${packageName}/package.json`, import.meta.url);
  try {
    const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8')) as { version?: string };
    return manifest.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

export function renderPeerReport(
  design: PeerDesign,
  result: PeerDesignResult,
  options: { smoke: boolean; rounds: number },
): string {
  const environment = describeEnvironment();
  const lines = [
    `# ${design.name} against what you would use instead`,
    '',
    `Command: \`pnpm bench:peers ${design.name}\`${options.smoke ? ' (smoke mode: one short round, ratios not meaningful)' : ''}.`,
    `Measured ${environment.date} on Node ${environment.nodeVersion}, ${environment.cpuModel} (${environment.cores} cores, shared with other work: read the ratios, not the absolute rates).`,
    `${options.rounds} round${options.rounds === 1 ? '' : 's'} per measurement, contenders alternated (A B, B A, ...); each cell is the median, with the min-max over the rounds in brackets. **ours ÷ peer** above 1.00 means ours is ahead.`,
    '',
    '| peer | version |',
    '|---|---|',
    ...design.peers.map((name) => `| \`${name}\` | ${installedVersion(name)} |`),
  ];
  if (result.settings.length > 0) lines.push('', ...result.settings.map((setting) => `- ${setting}`));
  for (const table of result.tables) lines.push('', ...renderTable(table));
  if (design.findings.length > 0) {
    lines.push('', '## Why the differences', '', ...design.findings.map((finding) => `- ${finding}`));
  }
  return `${lines.join('\n')}\n`;
}

function renderTable(table: PeerTable): string[] {
  const lines = [`## ${table.title}`, ''];
  if (table.intro) lines.push(table.intro, '');
  const nameColumns = table.nameColumns ?? 1;
  const numeric = table.header.map((_, column) => column >= nameColumns);
  lines.push(`| ${table.header.map(escapeCell).join(' | ')} |`);
  lines.push(`|${numeric.map((isNumeric) => (isNumeric ? '---:' : '---')).join('|')}|`);
  for (const row of table.rows) lines.push(`| ${row.map(escapeCell).join(' | ')} |`);
  return lines;
}

/** Writes `load-tests/results/peers-<design>.md` atomically and returns its path. */
export async function writePeerReport(designName: string, markdown: string): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  const path = join(resultsDir, `peers-${designName}.md`);
  const temporaryPath = `${path}.${process.pid}.tmp`;
  await writeFile(temporaryPath, markdown);
  await rename(temporaryPath, path);
  return path;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
