import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { CategoryListingView, CategorySummaryView, CategoryView, toCategoryView, toProductView } from './catalog.views';
import { CreateCategoryDto, UpdateCategoryDto } from './dto/category.dto';
import { CategoryEntity } from './entities/category.entity';
import { ProductEntity } from './entities/product.entity';
import { IdempotencyContext } from '../idempotency/idempotency-key';
import { OwnWrites } from '../own-writes/own-writes';

@Injectable()
export class CategoriesService {
  constructor(
    @InjectRepository(CategoryEntity) private readonly categories: Repository<CategoryEntity>,
    @InjectRepository(ProductEntity) private readonly products: Repository<ProductEntity>,
    private readonly writes: OwnWrites,
  ) {}

  /** Every category sorted by name, with the number of its active products. */
  async list(): Promise<CategorySummaryView[]> {
    return this.categories.query(
      `SELECT c.id, c.slug, c.name, count(p.id) FILTER (WHERE p.active)::int AS "productCount"
         FROM catalog.categories c
         LEFT JOIN catalog.products p ON p.category_id = c.id
        GROUP BY c.id
        ORDER BY c.name, c.id`,
    );
  }

  /** A category and its active products sorted by name. */
  async listing(slug: string): Promise<CategoryListingView> {
    const category = await this.categories.findOneBy({ slug });
    if (!category) throw new NotFoundException(`category ${slug} not found`);
    const products = await this.products.find({
      where: { categoryId: category.id, active: true },
      order: { name: 'ASC', id: 'ASC' },
    });
    return { category: toCategoryView(category), products: products.map(toProductView) };
  }

  /** Writes and reads its answer in one transaction (after the Idempotency-Key's claim, when there is one). */
  async create(dto: CreateCategoryDto, idempotency?: IdempotencyContext): Promise<CategoryView> {
    return this.writes.run(async (em) => {
      await this.assertSlugFree(dto.slug, em);
      const { id } = await em.save(em.create(CategoryEntity, dto));
      return toCategoryView(await em.findOneByOrFail(CategoryEntity, { id }));
    }, idempotency);
  }

  async update(id: string, dto: UpdateCategoryDto): Promise<CategoryView> {
    // One transaction: the answer is read before the commit, never after it.
    return this.writes.run(async (em) => {
      const category = await em.findOneBy(CategoryEntity, { id });
      if (!category) throw new NotFoundException(`category ${id} not found`);
      if (dto.slug !== undefined && dto.slug !== category.slug) await this.assertSlugFree(dto.slug, em);
      await em.update(CategoryEntity, { id }, dto);
      return toCategoryView(await em.findOneByOrFail(CategoryEntity, { id }));
    });
  }

  /** Answers whether a category exists, for other catalog services (in their transaction when `em` is given). */
  async exists(id: string, em: EntityManager = this.categories.manager): Promise<boolean> {
    return em.existsBy(CategoryEntity, { id });
  }

  private async assertSlugFree(slug: string, em: EntityManager): Promise<void> {
    if (await em.existsBy(CategoryEntity, { slug })) throw new ConflictException(`slug already exists: ${slug}`);
  }
}
