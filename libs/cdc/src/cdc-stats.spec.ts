import { LatencyWindow } from './cdc-stats';

describe('LatencyWindow', () => {
  it('answers nulls before any sample', () => {
    expect(new LatencyWindow().summary()).toEqual({ p50: null, p99: null, max: null });
  });

  it('computes nearest-rank percentiles', () => {
    const w = new LatencyWindow();
    for (let i = 1; i <= 100; i++) w.record(i);
    expect(w.summary()).toEqual({ p50: 50, p99: 99, max: 100 });
  });

  it('keeps only the last samples', () => {
    const w = new LatencyWindow(3);
    for (const v of [1000, 1, 2, 3]) w.record(v);
    expect(w.count).toBe(3);
    expect(w.summary().max).toBe(3);
  });
});
