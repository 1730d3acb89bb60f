import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsEmail,
  IsISO31661Alpha2,
  IsISO4217CurrencyCode,
  IsObject,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsAccountId, IsInteger, IsUpperCaseCurrency, LowerCase } from '@app/http';

export const MAX_ITEM_QUANTITY = 1000;

export class ShippingAddress {
  @IsString()
  @Length(1, 200)
  name: string;

  @IsString()
  @Length(1, 200)
  line1: string;

  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @MaxLength(200)
  line2?: string;

  @IsString()
  @Length(1, 100)
  city: string;

  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @MaxLength(100)
  region?: string;

  @IsString()
  @Length(1, 20)
  postalCode: string;

  /** ISO 3166-1 alpha-2 country code, e.g. DE (either case). */
  @ApiProperty({ pattern: '^[A-Za-z]{2}$', example: 'DE' })
  @IsISO31661Alpha2()
  country: string;
}

export class OrderLineDto {
  @LowerCase()
  @IsUUID('all')
  productId: string;

  @IsInteger()
  @Min(1)
  @Max(MAX_ITEM_QUANTITY)
  quantity: number;
}

export class CreateOrderDto {
  @IsString()
  @IsAccountId()
  accountId: string;

  /** ISO 4217 code, upper case; every product of the order must be priced in it. */
  @IsISO4217CurrencyCode()
  @IsUpperCaseCurrency()
  currency: string;

  @IsEmail()
  @MaxLength(254)
  customerEmail: string;

  @IsObject()
  @ValidateNested()
  @Type(() => ShippingAddress)
  shippingAddress: ShippingAddress;

  /** One line per product: a productId may appear once. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ArrayUnique((line: OrderLineDto) => line?.productId, { message: 'items must not list a productId twice' })
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => OrderLineDto)
  items: OrderLineDto[];
}
