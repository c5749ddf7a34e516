import { Gauge, Registry } from 'prom-client';

/**
 * A gauge without a sample while its value is unknown: prom-client writes 0 for an unlabelled
 * gauge never set, which would read as "no limit is 0 bytes" or "the index is 0 s old".
 */
export class OptionalGauge extends Gauge {
  private readonly read: () => number | undefined | Promise<number | undefined>;

  constructor(
    name: string,
    help: string,
    registry: Registry,
    read: () => number | undefined | Promise<number | undefined>,
  ) {
    super({ name, help, registers: [registry] });
    this.read = read;
  }

  override async get() {
    const value = await this.read();
    const metric = await super.get();
    return { ...metric, values: value === undefined ? [] : [{ labels: {}, value }] };
  }
}
