import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { availableGenerator, load, LoadGenerator, parseWrkOutput, wrkScript } from './load';

// Captured from wrk 4.1.0 (Debian) with --latency against a local server.
const CLEAN = `Running 2s test @ http://127.0.0.1:18999
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.25ms    3.91ms  64.13ms   94.24%
    Req/Sec    55.08k    28.24k   78.32k    75.00%
  Latency Distribution
     50%  263.00us
     75%  400.00us
     90%    2.77ms
     99%   16.69ms
  109605 requests in 2.01s, 13.73MB read
Requests/sec:  54395.49
Transfer/sec:      6.81MB
`;

const WITH_ERRORS = `Running 1s test @ http://127.0.0.1:18998
  1 threads and 5 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.38ms    3.59ms  29.70ms   88.54%
    Req/Sec     1.19k   412.37     1.84k    60.00%
  Latency Distribution
     50%    2.91ms
     75%    4.87ms
     90%    8.55ms
     99%    1.43s
  1197 requests in 1.01s, 160.74KB read
  Socket errors: connect 1, read 600, write 2, timeout 3
  Non-2xx or 3xx responses: 599
Requests/sec:   1185.69
Transfer/sec:    159.22KB
`;

describe('parseWrkOutput', () => {
  it('reads requests, requests/s and the 50 % and 99 % latencies in ms, whatever unit wrk printed', () => {
    expect(parseWrkOutput(CLEAN)).toEqual({
      requests: 109605,
      requestsPerSecond: 54395,
      p50Ms: 0.26,
      p99Ms: 16.69,
      errors: 0,
      non2xx: 0,
    });
  });

  it('counts every kind of socket error and the non-2xx/3xx responses', () => {
    expect(parseWrkOutput(WITH_ERRORS)).toMatchObject({ p99Ms: 1430, errors: 606, non2xx: 599 });
  });

  it('refuses output without a summary (wrk failed) rather than reporting zeros', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(/wrk output/);
  });
});

describe('wrkScript', () => {
  it('lists every path and refuses anything that is not a plain path', () => {
    const script = wrkScript(['/catalog/products/a', '/catalog/products/b']);
    expect(script).toContain('"/catalog/products/a", "/catalog/products/b"');
    expect(() => wrkScript(['/x" os.execute("rm'])).toThrow(/plain request path/);
  });
});

describe('load (against a real local server)', () => {
  let server: Server;
  let url: string;
  const seen = new Map<string, number>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.set(req.url!, (seen.get(req.url!) ?? 0) + 1);
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => seen.clear());

  // wrk is an OS package (.ci/run installs it); autocannon is the fallback when it is missing.
  const generators: LoadGenerator[] = availableGenerator() === 'wrk' ? ['wrk', 'autocannon'] : ['autocannon'];

  it.each(generators)('%s: rotates over every path, and its count matches what the server saw', async (generator) => {
    const paths = ['/p/1', '/p/2', '/p/3'];
    const result = await load({ url, paths, connections: 4, durationSeconds: 1, generator });
    expect([...seen.keys()].sort()).toEqual(paths);
    const served = [...seen.values()].reduce((a, b) => a + b, 0);
    // The generator's count leaves out requests still in flight when it stopped (at most one per connection).
    expect(served - result.requests).toBeGreaterThanOrEqual(0);
    expect(served - result.requests).toBeLessThanOrEqual(4);
    expect(Math.min(...seen.values())).toBeGreaterThanOrEqual(Math.floor(served / 3) - 4);
    expect(result).toMatchObject({ errors: 0, non2xx: 0 });
    expect(result.requestsPerSecond).toBeGreaterThan(0);
  });

  it.each(generators)('%s: counts non-2xx responses', async (generator) => {
    const result = await load({ url, paths: ['/p/1', '/missing'], connections: 2, durationSeconds: 1, generator });
    expect(result.non2xx).toBeGreaterThan(0);
    expect(result.non2xx).toBeCloseTo(result.requests / 2, -1);
  });
});
