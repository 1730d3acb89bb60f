import { Round, summarise } from './throughput';

const round = (requestsPerSecond: number, cpuUsPerRequest: number | null = 50): Round => ({
  requests: requestsPerSecond * 5,
  requestsPerSecond,
  p50Ms: Math.round(100_000 / requestsPerSecond),
  p99Ms: Math.round(300_000 / requestsPerSecond),
  errors: 0,
  non2xx: 0,
  cpuUsPerRequest,
});

const scenarios = ['ceiling', 'l1-hit', 'peer'].map((name) => ({ name, description: name }));

describe('summarise (bench throughput rounds)', () => {
  it('takes ratios within each round, then their median, so drift between rounds cancels out', () => {
    // rounds[scenario][round]. The machine runs at half speed in round 2, and l1-hit has one bad round.
    const rows = summarise(scenarios, [
      [round(20_000), round(10_000), round(20_000)],
      [round(19_000), round(9_500), round(10_000)],
      [round(20_000), round(10_000), round(20_000)],
    ]);
    const l1 = rows[1];
    // Per-round ratios 0.95, 0.95, 0.5: the median is 0.95, where a ratio of medians would give 0.5.
    expect(l1.xCeiling).toBeCloseTo(0.95, 5);
    expect(l1.xPeer).toBeCloseTo(0.95, 5);
    expect(rows[0].xCeiling).toBe(1);
    expect(rows[2].xPeer).toBe(1);
  });

  it('keeps the lowest share of a round answered as the scenario is named (one bad round is enough)', () => {
    const answered = (share: number | undefined): Round => ({ ...round(30_000), answeredShare: share });
    const rows = summarise(scenarios, [
      [answered(undefined), answered(undefined), answered(undefined)],
      [answered(1), answered(0.4), answered(1)],
      [answered(undefined), answered(undefined), answered(undefined)],
    ]);
    expect(rows[1].answeredShare).toBe(0.4);
    expect(rows[0]).not.toHaveProperty('answeredShare');
  });

  it("reports req/s and latencies of the scenario's median round, and the median CPU per request", () => {
    const rows = summarise(scenarios, [
      [round(30_000, 40), round(10_000, 45), round(20_000, 60)],
      [round(30_000), round(30_000), round(30_000)],
      [round(30_000), round(30_000), round(30_000)],
    ]);
    expect(rows[0]).toMatchObject({
      scenario: 'ceiling',
      requestsPerSecond: 20_000,
      p50Ms: 5,
      p99Ms: 15,
      rounds: [30_000, 10_000, 20_000],
      serverCpuUsPerRequest: 45,
    });
  });

  it('gives the ratio to every reference scenario present, each taken within rounds, and NaN for a missing one', () => {
    const names = ['fastify', 'hook-floor', 'l1-hit', 'peer'].map((name) => ({ name, description: name }));
    const rows = summarise(names, [
      [round(20_000), round(10_000), round(20_000)],
      [round(25_000), round(12_000), round(25_000)],
      [round(22_000), round(11_000), round(23_000)],
      [round(10_000), round(5_000), round(10_000)],
    ]);
    const l1 = rows[2];
    expect(Object.keys(l1.ratios)).toEqual(['fastify', 'hook-floor', 'peer']);
    expect(l1.ratios['fastify']).toBeCloseTo(1.1, 5);
    expect(l1.ratios['hook-floor']).toBeCloseTo(11 / 12, 5); // median of 0.88, 0.9167, 0.92
    expect(l1.ratios['peer']).toBeCloseTo(2.2, 5);
    expect(l1.xPeer).toBeCloseTo(2.2, 5);
    expect(l1.xCeiling).toBeNaN();
  });

  it('has no CPU figure when a round could not read it (no /proc)', () => {
    const rows = summarise(scenarios, [
      [round(1, null), round(1), round(1)],
      [round(1), round(1), round(1)],
      [round(1), round(1), round(1)],
    ]);
    expect(rows.map((r) => r.serverCpuUsPerRequest)).toEqual([null, 50, 50]);
  });
});
