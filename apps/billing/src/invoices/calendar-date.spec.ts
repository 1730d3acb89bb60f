import { validateSync } from 'class-validator';
import { IsCalendarDate, isCalendarDate } from './calendar-date';

describe('isCalendarDate', () => {
  it.each(['2026-01-31', '2028-02-29', '2000-02-29', '0001-01-01', '9999-12-31', '0099-06-15'])(
    'accepts %s',
    (value) => {
      expect(isCalendarDate(value)).toBe(true);
    },
  );

  it.each([
    '2026-02-29', // not a leap year
    '1900-02-29', // century, not a leap year
    '2026-04-31',
    '2026-13-01',
    '2026-00-10',
    '2026-01-00',
    '0000-01-01',
    '2026-1-31',
    '2026-01-31T00:00:00Z',
    ' 2026-01-31',
    '20260131',
    '',
  ])('refuses %j', (value) => {
    expect(isCalendarDate(value)).toBe(false);
  });

  it.each([[20260131], [null], [undefined], [new Date()]])('refuses the non-string %p', (value) => {
    expect(isCalendarDate(value)).toBe(false);
  });

  it('names the field in its validation message', () => {
    class Probe {
      @IsCalendarDate()
      dueDate: unknown;
    }
    const probe = Object.assign(new Probe(), { dueDate: '2026-02-30' });
    const [error] = validateSync(probe);
    expect(Object.values(error.constraints ?? {})).toEqual(['dueDate must be a date YYYY-MM-DD']);
  });
});
