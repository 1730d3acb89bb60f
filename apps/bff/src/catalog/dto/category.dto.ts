import { ApiProperty, PartialType } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';

export const SLUG_PATTERN = /^[a-z0-9-]{1,64}$/;

export class CreateCategoryDto {
  /** URL name of the category: lower-case letters, digits and dashes. */
  @ApiProperty({ pattern: SLUG_PATTERN.source, example: 'coffee' })
  @IsString()
  @Matches(SLUG_PATTERN, { message: 'slug must match ^[a-z0-9-]{1,64}$' })
  slug: string;

  @IsString()
  @Length(1, 200)
  name: string;
}

/** Every field optional, but a field that is sent must be valid: null is refused, not written. */
export class UpdateCategoryDto extends PartialType(CreateCategoryDto, { skipNullProperties: false }) {}

/** `:slug` path parameter. */
export class CategorySlugParams {
  @ApiProperty({ pattern: SLUG_PATTERN.source, example: 'coffee' })
  @IsString()
  @Matches(SLUG_PATTERN, { message: 'slug must match ^[a-z0-9-]{1,64}$' })
  slug: string;
}
