import { ResponseStats } from './response-stats';

describe('ResponseStats', () => {
  it('counts list responses per status, starting at zero', () => {
    const stats = new ResponseStats();
    expect(stats.snapshot()).toEqual({ listResponses: { 200: 0, 304: 0 } });
    stats.recordList(200);
    stats.recordList(304);
    stats.recordList(304);
    expect(stats.snapshot()).toEqual({ listResponses: { 200: 1, 304: 2 } });
  });

  it('hands out copies, not its counters', () => {
    const stats = new ResponseStats();
    const before = stats.snapshot();
    stats.recordList(200);
    expect(before.listResponses[200]).toBe(0);
    expect(JSON.parse(JSON.stringify(stats.snapshot()))).toEqual({ listResponses: { '200': 1, '304': 0 } });
  });
});
