/** The demo catalog and orders a new user sees on first start in development. Deterministic on purpose. */

export const DEMO_CATEGORIES = [
  {
    slug: 'coffee',
    name: 'Coffee',
    products: [
      'Arabica Beans',
      'Robusta Beans',
      'Espresso Blend',
      'Decaf Blend',
      'Cold Brew Pack',
      'Single Origin Ethiopia',
      'Single Origin Colombia',
      'House Blend',
      'Dark Roast',
      'Light Roast',
    ],
  },
  {
    slug: 'tea',
    name: 'Tea',
    products: [
      'Green Tea',
      'Black Tea',
      'Oolong',
      'Earl Grey',
      'Chamomile',
      'Peppermint',
      'Rooibos',
      'Matcha',
      'Jasmine',
      'Chai',
    ],
  },
  {
    slug: 'brewing-gear',
    name: 'Brewing Gear',
    products: [
      'Pour-Over Cone',
      'French Press',
      'Moka Pot',
      'Burr Grinder',
      'Gooseneck Kettle',
      'Scale',
      'Paper Filters',
      'Aeropress',
      'Cold Brew Jar',
      'Milk Frother',
    ],
  },
  {
    slug: 'mugs',
    name: 'Mugs & Cups',
    products: [
      'Stoneware Mug',
      'Glass Cup',
      'Travel Mug',
      'Espresso Cup',
      'Latte Bowl',
      'Tea Cup',
      'Double-Wall Glass',
      'Enamel Mug',
      'Porcelain Mug',
      'Tumbler',
    ],
  },
  {
    slug: 'snacks',
    name: 'Snacks',
    products: [
      'Almond Biscotti',
      'Dark Chocolate',
      'Shortbread',
      'Oat Cookies',
      'Madeleines',
      'Stroopwafel',
      'Granola Bar',
      'Brownie',
      'Cantuccini',
      'Lemon Cake',
    ],
  },
] as const;

export const DEMO_ACCOUNTS = ['acme', 'globex', 'initech'] as const;

export const DEMO_ADDRESS = {
  name: 'Demo Customer',
  line1: '1 Example Street',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};

/** A stable sku from a category slug and a product's position in it, e.g. COFFEE-003. */
export function demoSku(slug: string, index: number): string {
  return `${slug.toUpperCase()}-${String(index + 1).padStart(3, '0')}`;
}

/** Prices between 2.50 and 49.50 that look hand-picked but come from the index. */
export function demoPriceCents(categoryIndex: number, productIndex: number): number {
  return 250 + ((categoryIndex * 7 + productIndex * 13) % 48) * 100 + (productIndex % 2) * 49;
}
