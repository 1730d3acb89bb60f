import { normalize } from '@angular-devkit/core';
import { HostTree } from '@angular-devkit/schematics';
import { captureArguments, planCaptureMigration } from './capture-migration';

const DIR = normalize('/apps/bff/src/migrations');
const NOW = 1_800_000_000_000;

function migrations(...files: string[]): HostTree {
  const tree = new HostTree();
  for (const file of files) tree.create(`${DIR}/${file}`, '');
  return tree;
}

describe('planCaptureMigration', () => {
  it('names a new migration <now>-<name>-capture, class <Name>Capture<now>', () => {
    const tree = migrations('index.ts', '1763700500000-generic-capture.ts');
    expect(planCaptureMigration(tree, DIR, 'invoice-lines', NOW)).toEqual({
      file: `${NOW}-invoice-lines-capture`,
      timestamp: NOW,
      className: `InvoiceLinesCapture${NOW}`,
      exists: false,
    });
  });

  it('comes after every migration there, even one timestamped later than now', () => {
    const tree = migrations('index.ts', `${NOW + 5000}-gadgets-capture.ts`);
    expect(planCaptureMigration(tree, DIR, 'widgets', NOW).timestamp).toBe(NOW + 5001);
  });

  it('finds the migration an earlier run wrote', () => {
    const tree = migrations('index.ts', `${NOW - 1}-widgets-capture.ts`, `${NOW + 1}-gadgets-capture.ts`);
    expect(planCaptureMigration(tree, DIR, 'widgets', NOW)).toEqual({
      file: `${NOW - 1}-widgets-capture`,
      timestamp: NOW - 1,
      className: `WidgetsCapture${NOW - 1}`,
      exists: true,
    });
  });

  it('tells a domain from one whose name ends with it', () => {
    const tree = migrations(`${NOW - 1}-big-widgets-capture.ts`);
    expect(planCaptureMigration(tree, DIR, 'widgets', NOW)).toMatchObject({ exists: false, timestamp: NOW });
  });

  it('works where there is no migrations folder yet', () => {
    expect(planCaptureMigration(new HostTree(), DIR, 'widgets', NOW)).toMatchObject({ exists: false, timestamp: NOW });
  });
});

describe('captureArguments', () => {
  const table = { schema: 'public', table: 'coupons', qualified: 'public.coupons', key: 'id', extension: false };

  it('passes domain, aggregate item and key column to cdc.capture_rows()', () => {
    expect(captureArguments('coupons', table)).toBe(`'coupons', 'item', 'id'`);
  });

  it('fixes the kind to updated for a table that extends the items', () => {
    expect(captureArguments('coupons', { ...table, key: 'coupon_id', extension: true })).toBe(
      `'coupons', 'item', 'coupon_id', 'updated'`,
    );
  });
});
