import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ schema: 'orders', name: 'order_items' })
export class OrderItemEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'order_id' })
  orderId: string;

  @Column('uuid', { name: 'product_id' })
  productId: string;

  /** Copied from the catalog at order time, so later catalog edits do not rewrite history. */
  @Column('text')
  sku: string;

  @Column('text')
  name: string;

  @Column('integer')
  quantity: number;

  @Column('integer', { name: 'unit_price_cents' })
  unitPriceCents: number;
}
