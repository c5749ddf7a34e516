import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { LogLineFormat } from './log-line.js';
import { type LogOutput, LogWriter } from './log-writer.js';
import { PortcacheLogger } from './portcache-logger.js';
import { requestContext } from './request-context.js';

function collecting() {
  let text = '';
  const output: LogOutput = {
    write(chunk, callback) {
      text += chunk;
      callback();
      return true;
    },
  };
  const writer = new LogWriter(output, { flushMs: 10_000 });
  const logger = new PortcacheLogger(new LogLineFormat('json'), writer);
  const lines = () => {
    writer.flush();
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, string>);
  };
  return { logger, lines };
}

describe('PortcacheLogger', () => {
  const previous = (Logger as unknown as { staticInstanceRef?: PortcacheLogger }).staticInstanceRef;
  afterEach(() => Logger.overrideLogger(previous ?? false));

  it("takes Nest's context, and the request id of the request being handled", () => {
    const { logger, lines } = collecting();
    Logger.overrideLogger(logger);
    new Logger('FillService').warn('slow mirror');
    requestContext.run('abc-7', () => new Logger('FillVerdicts').log('cached'));
    expect(lines()).toMatchObject([
      { level: 'warn', context: 'FillService', msg: 'slow mirror' },
      { level: 'info', context: 'FillVerdicts', msg: 'cached', requestId: 'abc-7' },
    ]);
    expect(lines()[0]).not.toHaveProperty('requestId');
  });

  it('writes errors with their stack and causes, whether passed as the message, a parameter or a stack', () => {
    const { logger, lines } = collecting();
    Logger.overrideLogger(logger);
    const error = new Error('fill failed', { cause: new Error('ECONNRESET') });
    new Logger('A').error('could not fetch', error);
    new Logger('B').error(error);
    new Logger('C').error('with a stack', (new Error('thrown') as Error).stack);
    Logger.error('static, no context');
    const [a, b, c, d] = lines();
    expect(a).toMatchObject({ level: 'error', context: 'A', msg: 'could not fetch' });
    expect(a.error).toMatch(/^Error: fill failed\n\s+at [\s\S]*\ncaused by: Error: ECONNRESET/);
    expect(b).toMatchObject({ context: 'B', msg: 'fill failed' });
    expect(b.error).toContain('caused by: Error: ECONNRESET');
    expect(c).toMatchObject({ context: 'C', msg: 'with a stack' });
    expect(c.error).toMatch(/^Error: thrown\n\s+at /);
    expect(d).toMatchObject({ msg: 'static, no context' });
    expect(d).not.toHaveProperty('context');
  });

  it('writes only the enabled levels', () => {
    const { logger, lines } = collecting();
    logger.debug('hidden', 'X');
    logger.verbose('hidden', 'X');
    logger.setLogLevels(['debug']);
    logger.debug('shown', 'X');
    logger.log('hidden now', 'X');
    expect(lines()).toMatchObject([{ level: 'debug', msg: 'shown' }]);
  });

  it('appends other parameters to the message', () => {
    const { logger, lines } = collecting();
    logger.log('counts', { a: 1 }, 2, 'Ctx');
    expect(lines()).toMatchObject([{ msg: 'counts {"a":1} 2', context: 'Ctx' }]);
  });
});
