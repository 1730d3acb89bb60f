import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ schema: 'catalog', name: 'stock_levels' })
export class StockLevelEntity {
  @PrimaryColumn('uuid', { name: 'product_id' })
  productId: string;

  @Column('integer')
  quantity: number;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
