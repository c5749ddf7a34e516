import { Module } from '@nestjs/common';
import { AccessLog } from './access-log.service.js';

/** The access log (request ids, one line per request); installLogging makes it write. */
@Module({
  providers: [AccessLog],
  exports: [AccessLog],
})
export class LoggingModule {}
