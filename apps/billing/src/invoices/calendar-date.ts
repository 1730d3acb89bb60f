import { ValidateBy, ValidationOptions } from 'class-validator';

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * `YYYY-MM-DD` naming a day that exists (2028-02-29 yes, 2026-02-29 no), in
 * years 0001..9999: what a Postgres `date` stores and answers back unchanged.
 */
export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = DATE_PATTERN.exec(value);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // (Date.UTC maps years 0..99 to 1900..1999)
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** class-validator rule for isCalendarDate; the message names the field and the form. */
export function IsCalendarDate(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCalendarDate',
      validator: {
        validate: (value) => isCalendarDate(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be a date YYYY-MM-DD`,
      },
    },
    options,
  );
}
