import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CreateInvoiceDto, UpdateInvoiceDto } from './dto/invoice.dto';
import { canTransition, InvoiceStatus, isEditable } from './invoice-status';
import { InvoiceSummaryView, InvoiceView } from './invoices.views';

/**
 * The columns of a view, named and formatted by Postgres: the representation
 * (field order, `YYYY-MM-DD` dates without a time zone round trip) is what the
 * list's ETag covers, so it is built in one place, in SQL.
 */
const SUMMARY_COLUMNS = `id, number, status, total_cents AS "totalCents", currency, to_char(due_date, 'YYYY-MM-DD') AS "dueDate"`;
const VIEW_COLUMNS = `id, account_id AS "accountId", number, status, total_cents AS "totalCents", currency,
  to_char(due_date, 'YYYY-MM-DD') AS "dueDate", updated_at AS "updatedAt"`;

/** TypeORM answers an UPDATE or DELETE query with `[rows, affected]` (any other statement with `rows`). */
type ChangeResult<T> = [T[], number];

@Injectable()
export class InvoicesService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * An account's invoices by due date, then number in byte order (COLLATE "C"),
   * so the order, and with it the ETag, is the same on every server whatever its
   * locale. `[]` for an account without invoices.
   */
  async listForAccount(accountId: string): Promise<InvoiceSummaryView[]> {
    return this.dataSource.query(
      `SELECT ${SUMMARY_COLUMNS} FROM billing.invoices WHERE account_id = $1 ORDER BY due_date, number COLLATE "C"`,
      [accountId],
    );
  }

  /** A duplicate number is a unique violation, answered 409 by the shared error mapping (race-free). */
  async create(accountId: string, dto: CreateInvoiceDto): Promise<InvoiceView> {
    const [invoice] = await this.dataSource.query(
      `INSERT INTO billing.invoices (account_id, number, status, total_cents, currency, due_date)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${VIEW_COLUMNS}`,
      [accountId, dto.number, dto.status ?? 'draft', dto.totalCents, dto.currency, dto.dueDate],
    );
    return invoice;
  }

  /** Checks the rules against the row locked by this transaction, so concurrent changes cannot slip between. */
  async update(id: string, dto: UpdateInvoiceDto): Promise<InvoiceView> {
    if (dto.status === undefined && dto.totalCents === undefined && dto.dueDate === undefined) {
      throw new BadRequestException(['body must set at least one of status, totalCents, dueDate']);
    }
    return this.dataSource.transaction(async (manager) => {
      const [current] = await manager.query<{ status: InvoiceStatus }[]>(
        `SELECT status FROM billing.invoices WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (!current) throw new NotFoundException(`invoice ${id} not found`);
      if (dto.status !== undefined && !canTransition(current.status, dto.status)) {
        throw new ConflictException(`invoice status cannot change from ${current.status} to ${dto.status}`);
      }
      if ((dto.totalCents !== undefined || dto.dueDate !== undefined) && !isEditable(current.status)) {
        throw new ConflictException(
          `invoice is ${current.status}: totalCents and dueDate change only while it is draft or open`,
        );
      }
      const [[invoice]] = await manager.query<ChangeResult<InvoiceView>>(
        `UPDATE billing.invoices
            SET status = COALESCE($2, status), total_cents = COALESCE($3, total_cents), due_date = COALESCE($4::date, due_date)
          WHERE id = $1 RETURNING ${VIEW_COLUMNS}`,
        [id, dto.status ?? null, dto.totalCents ?? null, dto.dueDate ?? null],
      );
      return invoice;
    });
  }

  async remove(id: string): Promise<void> {
    const [, deleted] = await this.dataSource.query<ChangeResult<never>>(`DELETE FROM billing.invoices WHERE id = $1`, [
      id,
    ]);
    if (deleted === 0) throw new NotFoundException(`invoice ${id} not found`);
  }

  /** Whether the billing schema holds no invoice at all (the demo seed's "first start"). */
  async isEmpty(): Promise<boolean> {
    const [{ found }] = await this.dataSource.query(`SELECT EXISTS (SELECT 1 FROM billing.invoices) AS found`);
    return !found;
  }
}
