/** Exit codes of every command: `diff` reports a difference with 1; anything that went wrong is 2. */
export const EXIT = { ok: 0, different: 1, error: 2 } as const;

/**
 * A failure the user can act on (bad input, unreachable service, a refusal by the service): the
 * CLI prints its message, never a stack trace, and exits 2.
 */
export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UserError";
  }
}
