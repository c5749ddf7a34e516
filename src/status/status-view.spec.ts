import { describe, expect, it } from 'vitest';
import { requestRecord } from '../metrics/testing/request-record.js';
import { statusView } from './status-view.js';
import { inputs, MiB, NOW, source } from './testing/status-inputs.js';
import { TrafficHistory } from './traffic-history.js';

describe('statusView', () => {
  it('shows a running fill with its share, rate and time left, and a finished one as cached or failed', () => {
    const view = statusView(
      inputs({
        fills: [
          {
            name: 'big.tar.xz',
            source: 'http://mirror.example/distfiles/big.tar.xz',
            status: 'filling',
            written: MiB,
            expectedSize: 4 * MiB,
            bytesPerSecond: MiB,
            clients: 2,
          },
        ],
        finished: [
          { name: 'done.tar.gz', at: NOW - 10_000, cachedBytes: 2 * MiB },
          { name: 'broken.tar.gz', at: NOW - 20_000, cachedBytes: undefined },
          // Still running again: shown once, as running.
          { name: 'big.tar.xz', at: NOW - 30_000, cachedBytes: undefined },
        ],
      }),
    );
    expect(view.fills.rows).toEqual([
      expect.objectContaining({
        key: 'big.tar.xz',
        stateText: 'downloading',
        bar: 0.25,
        progress: '1.00 MiB of 4.00 MiB (25.0%)',
        rate: '1.00 MiB/s',
        eta: '3 s left',
        clients: '2',
      }),
      expect.objectContaining({
        key: 'done.tar.gz',
        stateText: 'cached',
        state: 'ok',
        bar: 1,
        progress: '2.00 MiB',
      }),
      expect.objectContaining({ key: 'broken.tar.gz', stateText: 'failed', state: 'bad', bar: 0 }),
    ]);
    expect(view.fills.summary).toBe('1 running, 2 ended recently');
    expect(view.kpi.fills).toBe('1');
  });

  it('takes the 24 h figures from the statistics and the last hour from the history', () => {
    const history = new TrafficHistory();
    history.add(requestRecord({ result: 'hit', source: 'cache', bytes: 3 * MiB }), NOW - 120_000);
    history.add(requestRecord({ result: 'miss', source: 'fill', bytes: MiB }), NOW);
    const view = statusView(
      inputs({ lastHour: history.series(NOW, 60, 1), lastDay: history.series(NOW, 48, 30) }),
    );
    expect(view.kpi).toMatchObject({
      hitHour: '50.0%',
      hitDay: '75.0%',
      servedDay: '8.00 MiB',
      savedDay: '6.00 MiB',
    });
    expect(view.traffic.periods.map((p) => [p.label, p.requests, p.hitRatio])).toEqual([
      ['last hour', '2', '50.0%'],
      ['last 24 h', '4', '75.0%'],
      ['since start', '4', '75.0%'],
    ]);
    const bars = view.traffic.hourChart.bars;
    expect(bars).toHaveLength(60);
    expect(bars[57]).toMatchObject({ cache: 1, fill: 0 });
    expect(bars[59]).toMatchObject({ cache: 0, fill: 1 / 3 });
    expect(view.traffic.hourChart.scale).toBe('busiest: 3.00 MiB in a minute');
  });

  it('shows the cache against its limit and the low watermark, and says when nothing is known', () => {
    const view = statusView(inputs());
    expect(view.cache).toMatchObject({ files: '2', bar: 0.25, mark: 0.75, hasMark: true });
    expect(view.cache.barText).toContain('256.0 MiB of 1.00 GiB (25.0%)');
    expect(view.cache.disk).toBe('5.00 GiB free of 10.0 GiB');
    const unknown = statusView(inputs({ stats: undefined, health: undefined }));
    expect(unknown.cache).toMatchObject({ known: false, files: '—', barText: 'not known' });
    expect(unknown.health).toMatchObject({ state: 'warn', text: 'unknown' });
    expect(unknown.topFiles.empty).toBe(true);
  });

  it('says "not yet" for a janitor that has not run and an index that is not built', () => {
    const view = statusView(
      inputs({
        index: {
          health: { usable: false, why: 'the index is not built yet' },
          distfiles: undefined,
          repositories: [],
          synced: [],
          lastReadAt: 0,
        },
      }),
    );
    expect(view.index).toMatchObject({
      state: 'warn',
      text: 'the index is not built yet',
      distfiles: 'not built yet',
    });
    expect(view.index.lastRead).toBe('not yet');
    expect(view.janitor.text).toMatch(/^not yet/);
  });

  it('marks a mirror failing from its first failure in a row, and open circuits with when they are retried', () => {
    const view = statusView(
      inputs({
        mirrors: [
          source({ url: 'http://ok.example' }),
          source({
            url: 'http://flaky.example',
            consecutiveFailures: 1,
            failures: 1,
            lastError: {
              reason: 'connect ECONNREFUSED 127.0.0.2:80',
              at: new Date(NOW - 60_000).toISOString(),
            },
          }),
          source({
            url: 'http://down.example',
            circuit: 'open',
            openUntil: new Date(NOW + 30_000).toISOString(),
          }),
          source({ url: 'http://new.example', requests: 0 }),
        ],
      }),
    );
    expect(view.mirrors.rows.map((r) => [r.state, r.stateText])).toEqual([
      ['ok', 'healthy'],
      ['bad', 'failing (failed once)'],
      ['bad', 'failing: skipped, retried in 30 s'],
      ['idle', 'not asked yet'],
    ]);
    expect(view.mirrors.rows[1].problem).toBe(
      '1 of 10 requests failed; last error 1 min ago: connect ECONNREFUSED 127.0.0.2:80',
    );
  });
});
