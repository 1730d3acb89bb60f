import { ConflictException, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Not, Repository } from 'typeorm';
import { assertIfMatch } from '@app/cache';
import { AvailabilityView, ProductView, toAvailabilityView, toProductView } from './catalog.views';
import { CategoriesService } from './categories.service';
import { OwnWrites } from '../own-writes/own-writes';
import { IdempotencyContext } from '../idempotency/idempotency-key';
import { CreateProductDto, ReplaceProductDto, UpdateProductDto } from './dto/product.dto';
import { ProductEntity } from './entities/product.entity';
import { StockLevelEntity } from './entities/stock-level.entity';

@Injectable()
export class ProductsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(ProductEntity) private readonly products: Repository<ProductEntity>,
    private readonly categories: CategoriesService,
    private readonly writes: OwnWrites,
  ) {}

  /**
   * The source read of the product route, which every cache miss of it runs. One SELECT by primary key
   * whose columns are named as the entity's properties (built once from its metadata), so a row is what
   * findOneBy hydrates for these column types: findOneBy sends the same statement but builds it on every
   * call (query builder, alias escaping, entity hydration), about a tenth of a cache miss's CPU
   * (docs/BENCHMARKS.md, "The miss path").
   */
  async get(id: string): Promise<ProductView> {
    const [product] = (await this.dataSource.query(this.selectById(), [id])) as ProductEntity[];
    if (!product) throw new NotFoundException(`product ${id} not found`);
    return toProductView(product);
  }

  async availability(productId: string): Promise<AvailabilityView> {
    return this.availabilityIn(this.dataSource.manager, productId);
  }

  /** The checks run after the Idempotency-Key's claim, so a replay answers the stored product, not "sku exists". */
  async create(dto: CreateProductDto, idempotency?: IdempotencyContext): Promise<ProductView> {
    const { stock, ...fields } = dto;
    return this.writes.run(async (em) => {
      await this.assertCategoryExists(dto.categoryId, em);
      await this.assertSkuFree(dto.sku, undefined, em);
      const product = await em.save(
        em.create(ProductEntity, { ...fields, description: fields.description ?? '', active: fields.active ?? true }),
      );
      await em.insert(StockLevelEntity, { productId: product.id, quantity: stock ?? 0 });
      // Read in the transaction: a failing read after the commit must not turn the created product into an error.
      return toProductView(await em.findOneByOrFail(ProductEntity, { id: product.id }));
    }, idempotency);
  }

  async replace(id: string, dto: ReplaceProductDto, ifMatch?: string): Promise<ProductView> {
    return this.update(id, { ...dto, description: dto.description ?? '', active: dto.active ?? true }, ifMatch);
  }

  async update(id: string, dto: UpdateProductDto, ifMatch?: string): Promise<ProductView> {
    if (dto.categoryId !== undefined) await this.assertCategoryExists(dto.categoryId);
    if (dto.sku !== undefined) await this.assertSkuFree(dto.sku, id);
    const updated = await this.writes.run(async (em) => {
      assertIfMatch(ifMatch, toProductView(await this.lock(em, id)));
      await em.update(ProductEntity, { id }, dto);
      return em.findOneByOrFail(ProductEntity, { id });
    });
    return toProductView(updated);
  }

  async setStock(productId: string, quantity: number, ifMatch?: string): Promise<AvailabilityView> {
    return this.writes.run(async (em) => {
      await this.lock(em, productId);
      assertIfMatch(ifMatch, await this.availabilityIn(em, productId));
      await em.upsert(StockLevelEntity, { productId, quantity }, ['productId']);
      return toAvailabilityView(await em.findOneByOrFail(StockLevelEntity, { productId }));
    });
  }

  async remove(id: string, ifMatch?: string): Promise<void> {
    await this.writes.run(async (em) => {
      assertIfMatch(ifMatch, toProductView(await this.lock(em, id)));
      await em.delete(ProductEntity, { id });
    });
  }

  /** Locks the product row for the rest of the transaction (writes and If-Match checks see one state). */
  private async lock(em: EntityManager, id: string): Promise<ProductEntity> {
    const product = await em.findOne(ProductEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!product) throw new NotFoundException(`product ${id} not found`);
    return product;
  }

  private async availabilityIn(em: EntityManager, productId: string): Promise<AvailabilityView> {
    const level = await em.findOneBy(StockLevelEntity, { productId });
    if (level) return toAvailabilityView(level);
    // A product written without a stock row (e.g. by plain SQL) has nothing in stock.
    const product = await em.findOneBy(ProductEntity, { id: productId });
    if (!product) throw new NotFoundException(`product ${productId} not found`);
    return { productId, quantity: 0, inStock: false, updatedAt: product.updatedAt };
  }

  private selectByIdSql: string | undefined;

  private selectById(): string {
    if (this.selectByIdSql === undefined) {
      const { columns, schema, tableName, primaryColumns } = this.products.metadata;
      const q = (name: string) => this.dataSource.driver.escape(name);
      const list = columns.map((c) => `${q(c.databaseName)} AS ${q(c.propertyName)}`).join(', ');
      const table = schema ? `${q(schema)}.${q(tableName)}` : q(tableName);
      this.selectByIdSql = `SELECT ${list} FROM ${table} WHERE ${q(primaryColumns[0].databaseName)} = $1`;
    }
    return this.selectByIdSql;
  }

  private async assertCategoryExists(categoryId: string, em?: EntityManager): Promise<void> {
    if (!(await this.categories.exists(categoryId, em))) {
      throw new UnprocessableEntityException(`categoryId ${categoryId} does not refer to an existing category`);
    }
  }

  private async assertSkuFree(
    sku: string,
    exceptId?: string,
    em: EntityManager = this.products.manager,
  ): Promise<void> {
    const taken = await em.existsBy(ProductEntity, exceptId ? { sku, id: Not(exceptId) } : { sku });
    if (taken) throw new ConflictException(`sku already exists: ${sku}`);
  }
}
