import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CdcEvent, CdcEventPattern } from '@app/cdc';
import { OrdersCacheService } from './orders-cache.service';

/** Order change events (order rows and, through their parent, item rows), a batch at a time, as one invalidation. */
@Controller()
export class OrdersCdcController {
  constructor(private readonly cache: OrdersCacheService) {}

  @CdcEventPattern('cdc.orders.v1')
  async onOrderChanges(@Payload() events: CdcEvent[]): Promise<void> {
    await this.cache.applyEvents(events);
  }
}
