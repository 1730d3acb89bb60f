import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity({ schema: 'catalog', name: 'products' })
export class ProductEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text')
  sku: string;

  @Column('text')
  name: string;

  @Column('text')
  description: string;

  @Column('integer', { name: 'price_cents' })
  priceCents: number;

  @Column('char', { length: 3 })
  currency: string;

  @Column('uuid', { name: 'category_id' })
  categoryId: string;

  @Column('boolean')
  active: boolean;

  /** Incremented by a database trigger on every update, whoever writes. */
  @Column({ type: 'integer', insert: false, update: false })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
