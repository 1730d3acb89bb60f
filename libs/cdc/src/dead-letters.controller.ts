import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { AdminTokenGuard } from '@app/cache';
import { DEAD_LETTER_PAGE_MAX, DeadLetterPage, DeadLetters, RedriveReport, UnknownStreamError } from './dead-letters';

const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;
const entryIdMessage = ({ property }: { property: string }) =>
  `${property} must be stream entry ids (e.g. 1700000000000-0)`;

class DeadLettersQuery {
  /** A stream this deployment consumes, e.g. `cdc.catalog.v1`. */
  @ApiProperty({ description: 'A stream this deployment consumes', example: 'cdc.catalog.v1' })
  @IsString()
  @MaxLength(200)
  stream: string;

  /** Dead letters per page, oldest first (1–1000, default 100). */
  @ApiPropertyOptional({ description: 'Dead letters per page, oldest first', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  // Query values are strings and the pipe never coerces: only digits become a number.
  @Transform(({ value }) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value))
  @IsInt()
  @Min(1)
  @Max(DEAD_LETTER_PAGE_MAX)
  limit?: number;

  /** The `next` of the previous page: list dead letters after this id. */
  @ApiPropertyOptional({ description: 'The `next` of the previous page', example: '1700000000000-0' })
  @IsOptional()
  @IsString()
  @Matches(ENTRY_ID, { message: entryIdMessage })
  after?: string;
}

class RedriveBody {
  /** A stream this deployment consumes, e.g. `cdc.catalog.v1`. */
  @ApiProperty({ description: 'A stream this deployment consumes', example: 'cdc.catalog.v1' })
  @IsString()
  @MaxLength(200)
  stream: string;

  /** Dead-letter ids (the `id` of a listed dead letter) to redrive; all of the stream's when left out. */
  @ApiPropertyOptional({
    description: "Dead-letter ids (a listed dead letter's `id`); all of the stream's when left out",
    type: [String],
    example: ['1700000000000-0'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10_000)
  @IsString({ each: true })
  @Matches(ENTRY_ID, { each: true, message: entryIdMessage })
  ids?: string[];
}

async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UnknownStreamError || err instanceof RangeError) throw new BadRequestException(err.message);
    throw new ServiceUnavailableException(`dead letters unavailable: ${(err as Error).message}`);
  }
}

/** Dead letters of the CDC streams (SPEC §4): list them with their errors, and redrive them once the cause is fixed. */
@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('admin/cdc/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLetters) {}

  /** Dead letters of a stream, oldest first, with the error that set each aside. */
  @Get()
  list(@Query() { stream, limit, after }: DeadLettersQuery): Promise<DeadLetterPage> {
    return answer(() => this.deadLetters.list(stream, { limit, after }));
  }

  /**
   * Re-publishes dead letters to their stream (all, or `ids`) and removes them
   * from the dead-letter stream; ones that are not a valid envelope stay (`skipped`).
   */
  @Post('redrive')
  @HttpCode(200)
  redrive(@Body() { stream, ids }: RedriveBody): Promise<RedriveReport> {
    return answer(() => this.deadLetters.redrive(stream, ids));
  }
}
