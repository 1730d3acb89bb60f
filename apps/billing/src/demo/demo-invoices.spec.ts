import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ACCOUNT_ID_PATTERN } from '@app/http';
import { CreateInvoiceDto } from '../invoices/dto/invoice.dto';
import { DEMO_ACCOUNTS, demoInvoices } from './demo-invoices';

describe('demo invoices', () => {
  it('belong to the demo accounts', () => {
    expect(new Set(demoInvoices().map((i) => i.accountId))).toEqual(new Set(DEMO_ACCOUNTS));
  });

  it('are deterministic and have unique numbers', () => {
    const invoices = demoInvoices();
    expect(demoInvoices()).toEqual(invoices);
    expect(new Set(invoices.map((i) => i.number)).size).toBe(invoices.length);
    expect(invoices).toHaveLength(12);
  });

  it('pass the API validation, so the seed obeys the same rules as a client', () => {
    for (const { accountId, ...body } of demoInvoices()) {
      expect(accountId).toMatch(ACCOUNT_ID_PATTERN);
      expect(validateSync(plainToInstance(CreateInvoiceDto, body), { forbidUnknownValues: true })).toEqual([]);
    }
  });
});
