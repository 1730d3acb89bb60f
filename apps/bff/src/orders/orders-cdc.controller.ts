import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CdcEvent, CdcEventPattern } from '@app/cdc';
import { OrdersCacheService, orderChangeFromEvent } from './orders-cache.service';

/** Order change events (order rows and, through their parent, item rows). */
@Controller()
export class OrdersCdcController {
  constructor(private readonly cache: OrdersCacheService) {}

  @CdcEventPattern('cdc.orders.v1')
  async onOrderChange(@Payload() event: CdcEvent): Promise<void> {
    await this.cache.apply(orderChangeFromEvent(event), event.keys);
  }
}
