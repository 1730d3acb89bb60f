import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CategoryListingView, CategorySummaryView, CategoryView, toCategoryView, toProductView } from './catalog.views';
import { CreateCategoryDto, UpdateCategoryDto } from './dto/category.dto';
import { CategoryEntity } from './entities/category.entity';
import { ProductEntity } from './entities/product.entity';

@Injectable()
export class CategoriesService {
  constructor(
    @InjectRepository(CategoryEntity) private readonly categories: Repository<CategoryEntity>,
    @InjectRepository(ProductEntity) private readonly products: Repository<ProductEntity>,
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

  async create(dto: CreateCategoryDto): Promise<CategoryView> {
    await this.assertSlugFree(dto.slug);
    const { id } = await this.categories.save(this.categories.create(dto));
    return toCategoryView(await this.categories.findOneByOrFail({ id }));
  }

  async update(id: string, dto: UpdateCategoryDto): Promise<CategoryView> {
    const category = await this.categories.findOneBy({ id });
    if (!category) throw new NotFoundException(`category ${id} not found`);
    if (dto.slug !== undefined && dto.slug !== category.slug) await this.assertSlugFree(dto.slug);
    await this.categories.update({ id }, dto);
    return toCategoryView(await this.categories.findOneByOrFail({ id }));
  }

  /** Answers whether a category exists, for other catalog services. */
  async exists(id: string): Promise<boolean> {
    return this.categories.existsBy({ id });
  }

  private async assertSlugFree(slug: string): Promise<void> {
    if (await this.categories.existsBy({ slug })) throw new ConflictException(`slug already exists: ${slug}`);
  }
}
