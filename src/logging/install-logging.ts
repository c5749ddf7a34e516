import type { INestApplication } from '@nestjs/common';
import { PortcacheConfig } from '../config/portcache-config.js';
import { AccessLog } from './access-log.service.js';
import { type LogFormat, LogLineFormat } from './log-line.js';
import { type LogOutput, LogWriter } from './log-writer.js';
import { PortcacheLogger } from './portcache-logger.js';

export interface InstalledLogging {
  readonly format: LogFormat;
  readonly logger: PortcacheLogger;
  readonly writer: LogWriter;
}

/**
 * Makes `app` log through PortcacheLogger to `output` (lines Nest buffered meanwhile
 * included) and write the access log. PORTCACHE_LOG_FORMAT decides the format; unset, text
 * when `output` is a terminal, JSON lines otherwise. Call before listen().
 */
export function installLogging(
  app: INestApplication,
  output: LogOutput,
  outputIsTerminal: boolean,
): InstalledLogging {
  const format = app.get(PortcacheConfig).logFormat ?? (outputIsTerminal ? 'text' : 'json');
  const writer = new LogWriter(output);
  const logger = new PortcacheLogger(new LogLineFormat(format), writer);
  app.useLogger(logger);
  app.get(AccessLog).start(logger);
  return { format, logger, writer };
}
