import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock.js';

@Global()
@Module({
  exports: [Clock],
  providers: [{ provide: Clock, useClass: SystemClock }],
})
export class CommonModule {}
