/**
 * Five-field cron (minute hour day-of-month month day-of-week) for reset schedules: numbers,
 * `*`, ranges `a-b`, steps `/n` and lists `,`; day-of-week 0-7 with 0 and 7 both Sunday. When both
 * day fields are restricted, a day matches either (as Vixie cron does).
 */

export const CRON_LENGTH_MAX = 100;

export class BadCronError extends Error {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`bad cron ${JSON.stringify(expression.slice(0, CRON_LENGTH_MAX))}: ${reason}`);
  }
}

export interface Cron {
  expression: string;
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
}

interface CronField {
  name: string;
  min: number;
  max: number;
}

const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
];

function parseNumber(text: string, expression: string, field: CronField): number {
  if (!/^\d{1,2}$/.test(text))
    throw new BadCronError(expression, `${field.name} ${JSON.stringify(text)} is not a number`);
  const value = Number(text);
  if (value < field.min || value > field.max) {
    throw new BadCronError(expression, `${field.name} ${value} is outside ${field.min}-${field.max}`);
  }
  return value;
}

function parseField(text: string, expression: string, field: CronField): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '')
      throw new BadCronError(expression, `bad ${field.name} ${JSON.stringify(part)}`);
    const step =
      stepText === undefined ? 1 : parseNumber(stepText, expression, { ...field, min: 1, max: 59 });
    let low: number = field.min;
    let high: number = field.max;
    if (range !== '*') {
      const [from, to, more] = range.split('-');
      if (more !== undefined || from === undefined)
        throw new BadCronError(expression, `bad ${field.name} range ${JSON.stringify(range)}`);
      low = parseNumber(from, expression, field);
      high =
        to === undefined ? (stepText === undefined ? low : field.max) : parseNumber(to, expression, field);
      if (high < low) throw new BadCronError(expression, `${field.name} range ${range} runs backwards`);
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

export function parseCron(expression: string): Cron {
  if (expression.length > CRON_LENGTH_MAX)
    throw new BadCronError(expression, `longer than ${CRON_LENGTH_MAX} characters`);
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new BadCronError(expression, 'five fields are needed: minute hour day month weekday');
  const [minutes, hours, days, months, weekdays] = parts.map((part, index) =>
    parseField(part, expression, FIELDS[index]!),
  );
  const weekdaySet = new Set([...weekdays!].map((day) => day % 7));
  return {
    expression,
    minutes: [...minutes!].sort((a, b) => a - b),
    hours: [...hours!].sort((a, b) => a - b),
    days: days!,
    months: months!,
    weekdays: weekdaySet,
    daysRestricted: parts[2] !== '*',
    weekdaysRestricted: parts[4] !== '*',
  };
}

/** Whether the cron fires on a local calendar day (month 1-12). */
export function cronMatchesDay(cron: Cron, year: number, month: number, day: number): boolean {
  if (!cron.months.has(month)) return false;
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const dayMatches = cron.days.has(day);
  const weekdayMatches = cron.weekdays.has(weekday);
  if (cron.daysRestricted && cron.weekdaysRestricted) return dayMatches || weekdayMatches;
  return dayMatches && weekdayMatches;
}
