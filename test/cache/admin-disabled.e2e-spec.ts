import { call } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';

/**
 * docs/contract.md §4: with ADMIN_TOKEN unset the admin routes answer 404, whatever the
 * Authorization header says. A file of its own: @nestjs/config copies each
 * app's validated configuration into process.env and ConfigService falls back
 * to process.env for unset keys, so an app started in the same test file as
 * one with a token would see that token.
 */
describe('admin routes without ADMIN_TOKEN', () => {
  const suite = useSeededBff();

  it('do not exist (404), with or without a bearer token', async () => {
    const app = suite.bff;
    const variants: Record<string, string>[] = [{}, { authorization: 'Bearer test-admin-token-0123456789' }];
    for (const headers of variants) {
      expect((await call(app, 'GET', '/admin/cache/usage?pattern=orders:*', undefined, headers)).statusCode).toBe(404);
      expect((await call(app, 'DELETE', '/admin/cache?pattern=orders:*', undefined, headers)).statusCode).toBe(404);
      const deadLetters = '/admin/cdc/dead-letters';
      expect((await call(app, 'GET', `${deadLetters}?stream=cdc.catalog.v1`, undefined, headers)).statusCode).toBe(404);
      const redrive = await call(app, 'POST', `${deadLetters}/redrive`, { stream: 'cdc.catalog.v1' }, headers);
      expect(redrive.statusCode).toBe(404);
    }
  });
});
