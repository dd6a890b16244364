/** The median of a non-empty list; the mean of the two middle values when the length is even. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle]!;
  return (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A number from the environment, or the default when unset; anything else is a loud error. */
export function numberFromEnv(
  name: string,
  defaultValue: number,
  options: { integer?: boolean; allowZero?: boolean } = {},
): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return defaultValue;
  const value = Number(raw);
  const inRange = options.allowZero ? value >= 0 : value > 0;
  const valid = Number.isFinite(value) && inRange && (!options.integer || Number.isInteger(value));
  const expected = `${options.allowZero ? 'non-negative' : 'positive'} ${options.integer ? 'integer' : 'number'}`;
  if (!valid) throw new Error(`${name}=${raw} is not a ${expected}`);
  return value;
}
