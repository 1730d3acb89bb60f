import { Body, Controller, Get, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { IdParams } from '@app/http';
import { CatalogCacheService } from '../catalog-cache.service';
import { catalogKeys } from '../catalog.keys';
import { CategoryListingView, CategorySummaryView, CategoryView } from '../catalog.views';
import { CategoriesService } from '../categories.service';
import { CategorySlugParams, CreateCategoryDto, UpdateCategoryDto } from '../dto/category.dto';

@ApiTags('catalog')
@Controller('catalog/categories')
export class CategoriesController {
  constructor(private readonly categories: CategoriesService) {}

  /** Every category sorted by name, with its number of active products. */
  @Get()
  @CachedRead(CatalogCacheService, 'categories', () => catalogKeys.categories())
  list(): Promise<CategorySummaryView[]> {
    return this.categories.list();
  }

  @Post()
  create(@Body() dto: CreateCategoryDto): Promise<CategoryView> {
    return this.categories.create(dto);
  }

  @Patch(':id')
  update(@Param() { id }: IdParams, @Body() dto: UpdateCategoryDto): Promise<CategoryView> {
    return this.categories.update(id, dto);
  }

  /** A category and its active products sorted by name. */
  @Get(':slug/products')
  @CachedRead(CatalogCacheService, 'listing', (req) => catalogKeys.listing((req.params as CategorySlugParams).slug))
  listing(@Param() { slug }: CategorySlugParams): Promise<CategoryListingView> {
    return this.categories.listing(slug);
  }
}
