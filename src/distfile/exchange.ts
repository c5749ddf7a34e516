import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { bytesWrittenTo } from '../common/sendfile.js';
import type { BodySource, RequestRecord, RequestResult, Traffic } from '../metrics/traffic.service.js';

/** A new Exchange for `res`, told to Traffic once the response has ended or been cut. */
export function trackExchange(traffic: Traffic, request: IncomingMessage, res: ServerResponse): Exchange {
  const exchange = new Exchange(traffic, request, res);
  (res as TrackedResponse)[EXCHANGE] = exchange;
  // One shared listener and one object per request: a hit allocates little (see Exchange).
  res.on('close', onResponseClose);
  return exchange;
}

const EXCHANGE = Symbol('exchange');

type TrackedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

function onResponseClose(this: TrackedResponse): void {
  this[EXCHANGE]?.close(this);
  this[EXCHANGE] = undefined;
}

/**
 * One request's bookkeeping while it is answered, and then its RequestRecord: the same object,
 * so that a hit costs one allocation for it (with a 1 MiB young generation, objects that live
 * across a request get promoted; fewer of them keep the old generation and RSS small).
 */
export class Exchange implements RequestRecord {
  readonly id: string;
  readonly method: string;
  path = '';
  name: string | undefined = undefined;
  status = 0;
  bytes = 0;
  durationMs: number;
  result: RequestResult = 'refused';
  /** Set once the request came to something; until then its status decides. */
  decided = false;
  source: BodySource = 'none';
  readonly client: string;
  completed = false;
  private readonly written: number;
  /** res.socket is gone by the time the response closes. */
  private readonly socket: Socket | null;

  constructor(
    private readonly traffic: Traffic,
    private readonly request: IncomingMessage,
    res: ServerResponse,
  ) {
    this.id = traffic.nextId();
    this.method = request.method ?? '';
    this.durationMs = performance.now();
    const socket = res.socket;
    this.socket = socket;
    this.written = socket ? bytesWrittenTo(socket) : 0;
    this.client = socket?.remoteAddress ?? ''; // gone once the socket is destroyed
  }

  /** The request came to `result` (undefined: let the status decide). */
  set outcome(result: RequestResult | undefined) {
    this.decided = result !== undefined;
    if (result) this.result = result;
  }

  get outcome(): RequestResult | undefined {
    return this.decided ? this.result : undefined;
  }

  close(res: ServerResponse): void {
    const url = this.request.url ?? '';
    const query = url.indexOf('?');
    this.path = query < 0 ? url : url.slice(0, query);
    this.status = res.statusCode;
    this.bytes = (this.socket ? bytesWrittenTo(this.socket) : this.written) - this.written;
    this.durationMs = performance.now() - this.durationMs;
    if (!this.decided)
      this.result = this.status === 404 ? 'not_found' : this.status >= 500 ? 'error' : 'refused';
    this.completed = res.writableFinished;
    this.traffic.record(this);
  }
}
