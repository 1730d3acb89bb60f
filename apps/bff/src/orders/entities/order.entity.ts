import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { OrderStatus } from '../order-status';
import type { ShippingAddress } from '../dto/create-order.dto';

@Entity({ schema: 'orders', name: 'orders' })
export class OrderEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text', { name: 'account_id' })
  accountId: string;

  @Column('text')
  status: OrderStatus;

  @Column('char', { length: 3 })
  currency: string;

  @Column('text', { name: 'customer_email' })
  customerEmail: string;

  @Column('jsonb', { name: 'shipping_address' })
  shippingAddress: ShippingAddress;

  @Column('integer', { name: 'total_cents' })
  totalCents: number;

  /** Incremented by a database trigger on every update, whoever writes. */
  @Column({ type: 'integer', insert: false, update: false })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
