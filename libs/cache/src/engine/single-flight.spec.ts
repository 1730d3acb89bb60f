import { SingleFlight } from './single-flight';

describe('SingleFlight', () => {
  it('runs one call for concurrent callers of a key', async () => {
    const flights = new SingleFlight<number>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fn = async () => {
      calls++;
      await gate;
      return 7;
    };
    const a = flights.run('k', fn);
    const b = flights.run('k', fn);
    const c = flights.run('other', fn);
    expect([a.joined, b.joined, c.joined]).toEqual([false, true, false]);
    release();
    expect(await Promise.all([a.promise, b.promise, c.promise])).toEqual([7, 7, 7]);
    expect(calls).toBe(2);
    expect(flights.size).toBe(0);
  });

  it('gives every waiter the error and forgets the failed flight', async () => {
    const flights = new SingleFlight<number>();
    const boom = async () => {
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('source down');
    };
    const a = flights.run('k', boom);
    const b = flights.run('k', boom);
    await expect(a.promise).rejects.toThrow('source down');
    await expect(b.promise).rejects.toThrow('source down');
    expect(flights.size).toBe(0);
    const again = flights.run('k', async () => 1);
    expect(again.joined).toBe(false);
    expect(await again.promise).toBe(1);
  });

  it('after forget, new callers start a new flight and the old one does not remove it', async () => {
    const flights = new SingleFlight<string>();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const old = flights.run('k', async () => {
      await gate;
      return 'old';
    });
    flights.forget(['k']);
    let releaseNew!: () => void;
    const gateNew = new Promise<void>((r) => (releaseNew = r));
    const fresh = flights.run('k', async () => {
      await gateNew;
      return 'new';
    });
    expect(fresh.joined).toBe(false);
    release();
    expect(await old.promise).toBe('old');
    // The old flight settled; the new one is still joinable.
    const joiner = flights.run('k', async () => 'unused');
    expect(joiner.joined).toBe(true);
    releaseNew();
    expect(await Promise.all([fresh.promise, joiner.promise])).toEqual(['new', 'new']);
    expect(flights.size).toBe(0);
  });
});
