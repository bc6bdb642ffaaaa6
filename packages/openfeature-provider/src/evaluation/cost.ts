import { BOUNDS } from "./limits";

/**
 * A cost or a size as a function of the evaluation context: a constant, plus so much per byte of
 * each top-level context key's value. The context holds at most `BOUNDS.contextBytes` in all, so a
 * rule reading `email` and `appVersion` cannot meet 64 KiB in both at once; the worst context puts
 * every byte under the key that costs the most per byte (`worst`). Coefficients are never negative,
 * so every operation below is an upper bound of what it models.
 */
export class Form {
  private constructor(
    readonly constant: number,
    readonly perByte: ReadonlyMap<string, number>,
  ) {}

  /** Nothing (a function, not a static instance: Pulumi serializes this code by value). */
  static zero(): Form {
    return new Form(0, new Map());
  }

  static of(constant: number): Form {
    return new Form(constant, new Map());
  }

  /** A context key's value: up to `factor` per byte of it. */
  static key(name: string, factor = 1): Form {
    return new Form(0, new Map([[name, factor]]));
  }

  static sum(forms: readonly Form[]): Form {
    let constant = 0;
    // Most forms are constants: their sum keeps the one map that has keys, if only one has any
    // (maps are never changed once a Form holds them).
    let only: ReadonlyMap<string, number> | undefined;
    let several = false;
    for (const form of forms) {
      constant += form.constant;
      if (form.perByte.size === 0) continue;
      if (only === undefined) only = form.perByte;
      else several = true;
    }
    if (!several) return new Form(constant, only ?? forms[0]?.perByte ?? new Map());
    const perByte = new Map<string, number>();
    for (const form of forms) {
      for (const [name, factor] of form.perByte) perByte.set(name, (perByte.get(name) ?? 0) + factor);
    }
    return new Form(constant, perByte);
  }

  /** An upper bound of both (per coefficient). */
  static max(forms: readonly Form[]): Form {
    let constant = 0;
    const perByte = new Map<string, number>();
    for (const form of forms) {
      constant = Math.max(constant, form.constant);
      for (const [name, factor] of form.perByte) perByte.set(name, Math.max(perByte.get(name) ?? 0, factor));
    }
    return new Form(constant, perByte);
  }

  plus(other: Form | number): Form {
    if (typeof other === "number") return new Form(this.constant + other, this.perByte);
    return Form.sum([this, other]);
  }

  scale(factor: number): Form {
    if (factor === 1) return this;
    if (this.perByte.size === 0) return new Form(this.constant * factor, this.perByte);
    const perByte = new Map<string, number>();
    for (const [name, f] of this.perByte) perByte.set(name, f * factor);
    return new Form(this.constant * factor, perByte);
  }

  /** An upper bound of this × other: one side at its worst, the other kept per key. */
  times(other: Form): Form {
    return other.scale(this.worst());
  }

  /** Per coefficient `this − other`, never below zero: what this adds over `other`. */
  minus(other: Form): Form {
    const perByte = new Map<string, number>();
    for (const [name, f] of this.perByte) {
      const rest = f - (other.perByte.get(name) ?? 0);
      if (rest > 0) perByte.set(name, rest);
    }
    return new Form(Math.max(0, this.constant - other.constant), perByte);
  }

  /** Its largest value over every context of at most `BOUNDS.contextBytes`. */
  worst(): number {
    let steepest = 0;
    for (const factor of this.perByte.values()) steepest = Math.max(steepest, factor);
    return this.constant + steepest * BOUNDS.contextBytes;
  }
}
