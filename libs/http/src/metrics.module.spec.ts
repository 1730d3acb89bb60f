import { Histogram, Registry } from 'prom-client';
import { httpDurationHistogram } from './metrics.module';

/** The same observations through prom-client's own Histogram, as the reference for what /metrics must read. */
function reference(observations: [string, string, number, number][]): Registry {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'cachegate_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  for (const [method, route, status, seconds] of observations) {
    histogram.labels(method, route, String(status)).observe(seconds);
  }
  return registry;
}

describe('httpDurationHistogram (aggregated on the request path)', () => {
  // Exactly on bounds (a bound counts in its own bucket), between them, above the last, and zero.
  const observations: [string, string, number, number][] = [
    ['GET', '/catalog/products/:id', 200, 0.0002],
    ['GET', '/catalog/products/:id', 200, 0.0005],
    ['GET', '/catalog/products/:id', 200, 0.0007],
    ['GET', '/catalog/products/:id', 200, 0.003],
    ['GET', '/catalog/products/:id', 304, 0.0001],
    ['GET', '/catalog/products/:id', 200, 2.5],
    ['GET', '/catalog/products/:id', 200, 7],
    ['POST', '/orders', 201, 0.04],
    ['GET', 'unmatched', 404, 0],
    ['GET', '/catalog/products/:id', 200, 0.3],
  ];

  function ours(): Registry {
    const registry = new Registry();
    const histogram = httpDurationHistogram(registry);
    for (const [method, route, status, seconds] of observations) {
      histogram.series(method, route, status).observe(seconds);
    }
    return registry;
  }

  it("reads in /metrics exactly as prom-client's Histogram with the same observations", async () => {
    const expected = await reference(observations).metrics();
    expect(expected).toContain('_bucket{le="0.0005",method="GET",route="/catalog/products/:id",status="200"} 2');
    expect(await ours().metrics()).toBe(expected);
  });

  it('reads the same as JSON (getMetricsAsJSON, what an aggregating registry merges)', async () => {
    expect(await ours().getMetricsAsJSON()).toEqual(await reference(observations).getMetricsAsJSON());
  });

  it('keeps one series per label set, and resetMetrics zeroes the series callers hold', async () => {
    const registry = new Registry();
    const histogram = httpDurationHistogram(registry);
    const series = histogram.series('GET', '/x', 200);
    expect(histogram.series('GET', '/x', 200)).toBe(series);
    series.observe(0.001);
    registry.resetMetrics();
    series.observe(0.02);
    expect(await registry.metrics()).toBe(await reference([['GET', '/x', 200, 0.02]]).metrics());
  });
});
