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
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags, SchemaObject } from '@nestjs/swagger';
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
import { ApiErrors } from '@app/http';
import { DEAD_LETTER_PAGE_MAX, DeadLetterPage, DeadLetters, RedriveReport, UnknownStreamError } from './dead-letters';

const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;
const entryIdMessage = ({ property }: { property: string }) =>
  `${property} must be stream entry ids (e.g. 1700000000000-0)`;

class DeadLettersQuery {
  /** A stream this deployment consumes, e.g. `cdc.catalog.v1`. */
  @ApiProperty({ description: 'A stream this deployment consumes', example: 'cdc.catalog.v1', maxLength: 200 })
  @IsString()
  @MaxLength(200)
  stream: string;

  /** Dead letters per page, oldest first (1–1000, default 100). */
  @ApiPropertyOptional({
    description: 'Dead letters per page, oldest first',
    type: 'integer',
    minimum: 1,
    maximum: DEAD_LETTER_PAGE_MAX,
    default: 100,
  })
  @IsOptional()
  // Query values are strings and the pipe never coerces: only digits become a number.
  @Transform(({ value }) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value))
  @IsInt()
  @Min(1)
  @Max(DEAD_LETTER_PAGE_MAX)
  limit?: number;

  /** The `next` of the previous page: list dead letters after this id. */
  @ApiPropertyOptional({
    description: 'The `next` of the previous page',
    example: '1700000000000-0',
    pattern: ENTRY_ID.source,
  })
  @IsOptional()
  @IsString()
  @Matches(ENTRY_ID, { message: entryIdMessage })
  after?: string;
}

class RedriveBody {
  /** A stream this deployment consumes, e.g. `cdc.catalog.v1`. */
  @ApiProperty({ description: 'A stream this deployment consumes', example: 'cdc.catalog.v1', maxLength: 200 })
  @IsString()
  @MaxLength(200)
  stream: string;

  /** Dead-letter ids (the `id` of a listed dead letter) to redrive; all of the stream's when left out. */
  @ApiPropertyOptional({
    description: "Dead-letter ids (a listed dead letter's `id`); all of the stream's when left out",
    type: 'array',
    example: ['1700000000000-0'],
    minItems: 1,
    maxItems: 10_000,
    items: { type: 'string', pattern: ENTRY_ID.source },
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

const ENTRY_ID_SCHEMA: SchemaObject = { type: 'string', pattern: ENTRY_ID.source };

const DEAD_LETTER_PAGE: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['stream', 'total', 'deadLetters', 'next'],
  properties: {
    stream: { type: 'string' },
    total: { type: 'integer', minimum: 0, description: 'Dead letters the stream holds (not only this page)' },
    deadLetters: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'entryId', 'error', 'deliveries', 'failedAt', 'event'],
        properties: {
          id: { ...ENTRY_ID_SCHEMA, description: 'Its id in the dead-letter stream: what redrive takes' },
          entryId: { ...ENTRY_ID_SCHEMA, description: 'The id it had in its stream' },
          error: { type: 'string', description: 'Why it was set aside' },
          deliveries: { type: 'integer', minimum: 0 },
          failedAt: { type: 'string' },
          event: { type: 'string', description: "The entry's `event` field as it was ('' when it had none)" },
        },
      },
    },
    next: { ...ENTRY_ID_SCHEMA, nullable: true, description: 'Pass as `after` for the next page; null on the last' },
  },
};

const REDRIVE_REPORT: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['stream', 'redriven', 'skipped', 'missing'],
  properties: {
    stream: { type: 'string' },
    redriven: { type: 'integer', minimum: 0, description: 'Re-published and removed from the dead-letter stream' },
    skipped: {
      type: 'array',
      description: 'Left in the dead-letter stream: not a valid envelope',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'error'],
        properties: { id: ENTRY_ID_SCHEMA, error: { type: 'string' } },
      },
    },
    missing: {
      type: 'array',
      items: ENTRY_ID_SCHEMA,
      description: 'Asked-for ids the dead-letter stream does not hold',
    },
  },
};

/** Dead letters of the CDC streams (docs/contract.md §4): list them with their errors, and redrive them once the cause is fixed. */
@ApiTags('admin')
@ApiBearerAuth()
@ApiErrors(
  { 400: 'Not a stream this deployment consumes, or a malformed parameter (the message names it)' },
  401,
  { 404: 'Admin routes are off: ADMIN_TOKEN is not set' },
  { 503: 'dead letters unavailable: Redis cannot be read' },
)
@UseGuards(AdminTokenGuard)
@Controller('admin/cdc/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLetters) {}

  /** Dead letters of a stream, oldest first, with the error that set each aside. */
  @Get()
  @ApiOkResponse({ schema: DEAD_LETTER_PAGE })
  list(@Query() { stream, limit, after }: DeadLettersQuery): Promise<DeadLetterPage> {
    return answer(() => this.deadLetters.list(stream, { limit, after }));
  }

  /**
   * Re-publishes dead letters to their stream (all, or `ids`) and removes them
   * from the dead-letter stream; ones that are not a valid envelope stay (`skipped`).
   */
  @Post('redrive')
  @HttpCode(200)
  @ApiOkResponse({ schema: REDRIVE_REPORT })
  redrive(@Body() { stream, ids }: RedriveBody): Promise<RedriveReport> {
    return answer(() => this.deadLetters.redrive(stream, ids));
  }
}
