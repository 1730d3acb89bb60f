import { ConflictException, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Not, Repository } from 'typeorm';
import { AvailabilityView, ProductView, toAvailabilityView, toProductView } from './catalog.views';
import { CategoriesService } from './categories.service';
import { CreateProductDto, ReplaceProductDto, UpdateProductDto } from './dto/product.dto';
import { ProductEntity } from './entities/product.entity';
import { StockLevelEntity } from './entities/stock-level.entity';

@Injectable()
export class ProductsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(ProductEntity) private readonly products: Repository<ProductEntity>,
    @InjectRepository(StockLevelEntity) private readonly stock: Repository<StockLevelEntity>,
    private readonly categories: CategoriesService,
  ) {}

  async get(id: string): Promise<ProductView> {
    return toProductView(await this.findOrThrow(id));
  }

  async availability(productId: string): Promise<AvailabilityView> {
    const level = await this.stock.findOneBy({ productId });
    if (level) return toAvailabilityView(level);
    // A product written without a stock row (e.g. by plain SQL) has nothing in stock.
    const product = await this.findOrThrow(productId);
    return { productId, quantity: 0, inStock: false, updatedAt: product.updatedAt };
  }

  async create(dto: CreateProductDto): Promise<ProductView> {
    await this.assertCategoryExists(dto.categoryId);
    await this.assertSkuFree(dto.sku);
    const { stock, ...fields } = dto;
    const id = await this.dataSource.transaction(async (em) => {
      const product = await em.save(
        em.create(ProductEntity, { ...fields, description: fields.description ?? '', active: fields.active ?? true }),
      );
      await em.insert(StockLevelEntity, { productId: product.id, quantity: stock ?? 0 });
      return product.id;
    });
    return this.get(id);
  }

  async replace(id: string, dto: ReplaceProductDto): Promise<ProductView> {
    return this.update(id, { ...dto, description: dto.description ?? '', active: dto.active ?? true });
  }

  async update(id: string, dto: UpdateProductDto): Promise<ProductView> {
    await this.findOrThrow(id);
    if (dto.categoryId !== undefined) await this.assertCategoryExists(dto.categoryId);
    if (dto.sku !== undefined) await this.assertSkuFree(dto.sku, id);
    await this.products.update({ id }, dto);
    return this.get(id);
  }

  async setStock(productId: string, quantity: number): Promise<AvailabilityView> {
    await this.findOrThrow(productId);
    await this.stock.upsert({ productId, quantity }, ['productId']);
    return toAvailabilityView(await this.stock.findOneByOrFail({ productId }));
  }

  async remove(id: string): Promise<void> {
    const { affected } = await this.products.delete({ id });
    if (!affected) throw new NotFoundException(`product ${id} not found`);
  }

  private async findOrThrow(id: string): Promise<ProductEntity> {
    const product = await this.products.findOneBy({ id });
    if (!product) throw new NotFoundException(`product ${id} not found`);
    return product;
  }

  private async assertCategoryExists(categoryId: string): Promise<void> {
    if (!(await this.categories.exists(categoryId))) {
      throw new UnprocessableEntityException(`categoryId ${categoryId} does not refer to an existing category`);
    }
  }

  private async assertSkuFree(sku: string, exceptId?: string): Promise<void> {
    const taken = await this.products.existsBy(exceptId ? { sku, id: Not(exceptId) } : { sku });
    if (taken) throw new ConflictException(`sku already exists: ${sku}`);
  }
}
