/**
 * A promise the test opens by hand: the one way the suites hold an operation
 * open at a known point (a source read, a lease request), or learn that it got
 * there, instead of sleeping and hoping it did.
 *
 *   const asked = new Gate();
 *   const release = new Gate();
 *   spy.mockImplementation(async (...args) => { asked.open(); await release.promise; return original(...args); });
 *   const pending = get(app, url);
 *   await asked.promise; // the request is now held inside the spied call
 *   release.open();
 */
export class Gate {
  readonly promise: Promise<void>;
  /** Resolves `promise`; opening an open gate does nothing. */
  open!: () => void;

  constructor() {
    this.promise = new Promise<void>((resolve) => (this.open = () => resolve()));
  }
}
