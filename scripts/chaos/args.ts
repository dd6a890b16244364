/**
 * The command line of `pnpm chaos`: `<service> [--seconds N] [--seed S]`, parsed into the values
 * the fault suites read (FAULT_SECONDS, FAULT_SEED), or into one error message that says what was
 * wrong and how to call it.
 */

export interface ChaosArgs {
  service: string;
  seconds: number;
  seed: number;
}

export type ParsedArgs =
  | { kind: 'run'; args: ChaosArgs }
  | { kind: 'help'; text: string }
  | { kind: 'error'; text: string };

export const DEFAULT_SECONDS = 600;
/** The fault suites' own default seed: a run without --seed replays CI's schedule, stretched. */
export const DEFAULT_SEED = 22;
/** The bound FAULT_SECONDS has in @sysdesign/testkit/faults: one day. */
export const SECONDS_MAX = 86_400;

/** A service in the registry; `ready` when its suite files exist (a suite may be on its way). */
export interface ChaosService {
  name: string;
  ready: boolean;
  /** Where its suite files are looked for, for the message when there are none. */
  files: string;
}

function namesOf(services: readonly ChaosService[], ready: boolean): string {
  return services
    .filter((service) => service.ready === ready)
    .map((service) => service.name)
    .join(', ');
}

export function usage(services: readonly ChaosService[]): string {
  const waiting = namesOf(services, false);
  return [
    'usage: pnpm chaos <service> [--seconds N] [--seed S]',
    '',
    `  <service>     one of: ${namesOf(services, true)}${waiting === '' ? '' : ` (no fault suite yet: ${waiting})`}`,
    `  --seconds N   how long each suite runs, in seconds (default ${DEFAULT_SECONDS}, at most ${SECONDS_MAX});`,
    '                a suite never runs shorter than its CI length',
    `  --seed S      the seed that replays the run, an integer (default ${DEFAULT_SEED})`,
  ].join('\n');
}

export function parseChaosArgs(argv: readonly string[], services: readonly ChaosService[]): ParsedArgs {
  const error = (message: string): ParsedArgs => ({
    kind: 'error',
    text: `${message}\n\n${usage(services)}`,
  });
  const positional: string[] = [];
  const options = new Map<string, string>();
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--help' || argument === '-h') return { kind: 'help', text: usage(services) };
    if (!argument.startsWith('-')) {
      positional.push(argument);
      continue;
    }
    const [name, inline] = splitOption(argument);
    if (name !== '--seconds' && name !== '--seed') return error(`unknown option ${name}`);
    if (options.has(name)) return error(`${name} given twice`);
    const value = inline ?? argv[++index];
    if (value === undefined || value === '') return error(`${name} needs a value`);
    options.set(name, value);
  }
  if (positional.length === 0) return error('which service? name one');
  if (positional.length > 1) return error(`one service at a time, got ${positional.join(', ')}`);
  const service = positional[0] as string;
  const known = services.find((entry) => entry.name === service);
  if (known === undefined)
    return error(
      `unknown service "${service}": the services with fault suites are ${namesOf(services, true)}`,
    );
  if (!known.ready) return error(`${service} has no fault suite yet (no ${known.files})`);
  const seconds = Number(options.get('--seconds') ?? DEFAULT_SECONDS);
  if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= SECONDS_MAX))
    return error(
      `--seconds must be a whole number from 1 to ${SECONDS_MAX}, got "${options.get('--seconds')}"`,
    );
  const seed = Number(options.get('--seed') ?? DEFAULT_SEED);
  if (!Number.isSafeInteger(seed)) return error(`--seed must be an integer, got "${options.get('--seed')}"`);
  return { kind: 'run', args: { service, seconds, seed } };
}

/** `--name=value` or `--name` (the value follows). */
function splitOption(argument: string): [string, string | undefined] {
  const equals = argument.indexOf('=');
  return equals === -1 ? [argument, undefined] : [argument.slice(0, equals), argument.slice(equals + 1)];
}
