/** Teardown in reverse order of start-up: each step of the local service registers how to undo itself. */
export class Teardown {
  private readonly steps: Array<() => unknown> = [];

  /** Runs on stop (or when a later start-up step fails), before the steps added earlier. */
  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every step added so far, newest first, each awaited; running it again does nothing. */
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}
