import { StaleTally, WriteLedger } from './staleness';

describe('WriteLedger.classify: a read is stale when it misses a write committed before it was sent', () => {
  it('a row never written, or written only after the read was sent, cannot be stale', () => {
    const ledger = new WriteLedger();
    expect(ledger.classify('r', 5, 1000)).toEqual({ afterWrite: false, staleMs: null });
    ledger.committed('r', 1001, 10);
    // Sent at 9 (the write still in flight) or exactly at the commit: the old value is not stale.
    expect(ledger.classify('r', 9, 1000)).toEqual({ afterWrite: false, staleMs: null });
    expect(ledger.classify('r', 10, 1000)).toEqual({ afterWrite: false, staleMs: null });
  });

  it('an answer older than a write committed before the read was sent is stale, aged from that commit', () => {
    const ledger = new WriteLedger();
    ledger.committed('r', 1001, 10);
    expect(ledger.classify('r', 13.5, 1000)).toEqual({ afterWrite: true, staleMs: 3.5 });
    expect(ledger.classify('r', 13.5, 1001)).toEqual({ afterWrite: true, staleMs: null });
    // A write that committed while the read was in flight may show already: newer than required is fine.
    ledger.committed('r', 1002, 14);
    expect(ledger.classify('r', 13.5, 1002)).toEqual({ afterWrite: true, staleMs: null });
  });

  it('ages a stale answer from the earliest write it does not show', () => {
    const ledger = new WriteLedger();
    ledger.committed('r', 1001, 10);
    ledger.committed('r', 1002, 20);
    expect(ledger.classify('r', 30, 1000).staleMs).toBe(20);
    expect(ledger.classify('r', 30, 1001).staleMs).toBe(10);
    expect(ledger.classify('r', 30, 1002).staleMs).toBeNull();
    // Only writes committed before the read count: at 15 the second one had not.
    expect(ledger.classify('r', 15, 1001).staleMs).toBeNull();
  });

  it('holds when concurrent writes of a row are seen committing out of value order', () => {
    const ledger = new WriteLedger();
    ledger.committed('r', 1002, 10); // the second UPDATE's answer arrived first
    ledger.committed('r', 1001, 11);
    expect(ledger.classify('r', 12, 1001)).toEqual({ afterWrite: true, staleMs: 2 });
    expect(ledger.classify('r', 12, 1002).staleMs).toBeNull();
  });

  it('keeps rows apart', () => {
    const ledger = new WriteLedger();
    ledger.committed('a', 1001, 10);
    expect(ledger.classify('b', 20, 1000)).toEqual({ afterWrite: false, staleMs: null });
  });

  it('refuses commits recorded against the clock', () => {
    const ledger = new WriteLedger();
    ledger.committed('r', 1001, 10);
    expect(() => ledger.committed('r', 1002, 9)).toThrow(/out of clock order/);
  });
});

describe('StaleTally', () => {
  it('counts reads, reads after a write, stale reads, those stale by more than 100 ms, and the longest', () => {
    const tally = new StaleTally();
    tally.add({ afterWrite: false, staleMs: null });
    tally.add({ afterWrite: true, staleMs: null });
    tally.add({ afterWrite: true, staleMs: 3 });
    tally.add({ afterWrite: true, staleMs: 100 });
    tally.add({ afterWrite: true, staleMs: 2500 });
    expect({ ...tally }).toEqual({ reads: 5, afterWrite: 4, stale: 3, late: 1, maxStaleMs: 2500 });
  });
});
