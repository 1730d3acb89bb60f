import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EnvironmentVariables } from '@app/config';
import { withAdvisoryLock } from '@app/database';
import { CategoriesService } from '../catalog/categories.service';
import { ProductsService } from '../catalog/products.service';
import { OrdersService } from '../orders/orders.service';
import { DEMO_ACCOUNTS, DEMO_ADDRESS, DEMO_CATEGORIES, demoPriceCents, demoSku } from './demo-data';

const SEED_LOCK_KEY = 'cachegate:demo-seed';

/**
 * Loads the demo catalog and orders on the first start in development, through
 * the modules' own services (so the data obeys the same rules as API writes).
 * "First start" means the catalog is empty; an advisory lock keeps two
 * instances booting together from seeding twice.
 */
@Injectable()
export class DemoSeedService implements OnApplicationBootstrap {
  private readonly logger = new Logger(DemoSeedService.name);

  constructor(
    private readonly config: ConfigService<EnvironmentVariables, true>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly categories: CategoriesService,
    private readonly products: ProductsService,
    private readonly orders: OrdersService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.get('NODE_ENV') !== 'development') return;
    await withAdvisoryLock(this.dataSource, SEED_LOCK_KEY, async () => {
      // Through the catalog's own service: the demo module does not read catalog tables.
      if ((await this.categories.list()).length === 0) await this.seed();
    });
  }

  private async seed(): Promise<void> {
    const productIds: string[] = [];
    for (const [ci, c] of DEMO_CATEGORIES.entries()) {
      const category = await this.categories.create({ slug: c.slug, name: c.name });
      for (const [pi, name] of c.products.entries()) {
        const product = await this.products.create({
          sku: demoSku(c.slug, pi),
          name,
          description: `${name} from the cachegate demo catalog.`,
          priceCents: demoPriceCents(ci, pi),
          currency: 'EUR',
          categoryId: category.id,
          stock: 20 + ((ci * 10 + pi) % 7) * 15,
        });
        productIds.push(product.id);
      }
    }
    let orders = 0;
    for (const [ai, accountId] of DEMO_ACCOUNTS.entries()) {
      for (let n = 0; n < 2 + ai; n++) {
        const pick = (k: number) => productIds[(ai * 11 + n * 5 + k * 17) % productIds.length];
        await this.orders.create({
          accountId,
          currency: 'EUR',
          customerEmail: `${accountId}@example.com`,
          shippingAddress: { ...DEMO_ADDRESS },
          items: [
            { productId: pick(0), quantity: 1 + n },
            { productId: pick(1), quantity: 2 },
          ],
        });
        orders++;
      }
    }
    this.logger.log(
      `loaded demo data: ${DEMO_CATEGORIES.length} categories, ${productIds.length} products, ${orders} orders`,
    );
  }
}
