import { NotFoundException } from '@nestjs/common';
import type { Pool } from 'pg';

/** The product as every comparison app answers it: the BFF's product view, straight from the row. */
export async function selectProduct(pool: Pool, id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT id, sku, name, description, price_cents AS "priceCents", currency, category_id AS "categoryId",
            active, version, updated_at AS "updatedAt"
       FROM catalog.products WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** The workload's API write of the comparison apps: one UPDATE of the price (404 for an unknown product). */
export async function updatePrice(pool: Pool, id: string, priceCents: number): Promise<{ priceCents: number }> {
  const { rowCount } = await pool.query('UPDATE catalog.products SET price_cents = $2 WHERE id = $1', [id, priceCents]);
  if (rowCount === 0) throw new NotFoundException();
  return { priceCents };
}
