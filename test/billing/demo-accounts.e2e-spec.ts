import { DEMO_ACCOUNTS as BFF_DEMO_ACCOUNTS } from '../../apps/bff/src/demo/demo-data';
import { DEMO_ACCOUNTS as BILLING_DEMO_ACCOUNTS } from '../../apps/billing/src/demo/demo-invoices';

// Across two apps, so it lives here: an app never imports another (npm run lint:arch).
describe('demo data of the two apps', () => {
  it('gives invoices to exactly the BFF demo accounts, so every demo account has some', () => {
    expect(BILLING_DEMO_ACCOUNTS).toEqual(BFF_DEMO_ACCOUNTS);
  });
});
