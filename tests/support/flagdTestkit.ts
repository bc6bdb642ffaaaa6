import * as fs from "node:fs";
import * as path from "node:path";
import { AstBuilder, compile, GherkinClassicTokenMatcher, Parser } from "@cucumber/gherkin";
import { IdGenerator, type Pickle } from "@cucumber/messages";

/** The flagd evaluator kit, beside the repository as `../shared/testkits/flagd-evaluator`. */
export const TESTKIT_DIR = path.resolve(__dirname, "../../../shared/testkits/flagd-evaluator");

export interface TestkitFlags {
  flags: Record<string, Record<string, unknown>>;
  $evaluators: Record<string, unknown>;
}

export const loadTestkitFlags = (): TestkitFlags =>
  JSON.parse(fs.readFileSync(path.join(TESTKIT_DIR, "flags/testkit-flags.json"), "utf8")) as TestkitFlags;

export interface KitScenario {
  feature: string;
  pickle: Pickle;
  tags: string[];
}

/** Every scenario of every `.feature` file, outlines expanded into one pickle per example row. */
export function loadScenarios(): KitScenario[] {
  const dir = path.join(TESTKIT_DIR, "gherkin");
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(".feature"))
    .sort()
    .flatMap((file) => {
      const parser = new Parser(new AstBuilder(IdGenerator.uuid()), new GherkinClassicTokenMatcher());
      const document = parser.parse(fs.readFileSync(path.join(dir, file), "utf8"));
      return compile(document, file, IdGenerator.uuid()).map((pickle) => ({
        feature: file,
        pickle,
        tags: pickle.tags.map((tag) => tag.name),
      }));
    });
}

export type FlagType = "Boolean" | "String" | "Integer" | "Float" | "Object";

/** A value as the kit writes it in a step, converted to the type the step names. */
export function kitValue(type: string, raw: string): unknown {
  switch (type) {
    case "Boolean":
      return raw === "true";
    case "Integer":
      return Number.parseInt(raw, 10);
    case "Float":
      return Number.parseFloat(raw);
    case "Object":
      // Gherkin keeps `\"` inside a step's quoted text.
      return JSON.parse(raw.replace(/\\"/g, '"'));
    default:
      return raw;
  }
}

/** What an OpenFeature provider makes of an OFREP response: the evaluation details. */
export interface Details {
  value: unknown;
  reason?: string;
  variant?: string;
  errorCode?: string;
  metadata: Record<string, unknown>;
}

const typeMatches = (type: FlagType, value: unknown): boolean => {
  switch (type) {
    case "Boolean":
      return typeof value === "boolean";
    case "String":
      return typeof value === "string";
    case "Integer":
    case "Float":
      return typeof value === "number";
    case "Object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
  }
};

/**
 * Maps an OFREP single-evaluation response to evaluation details the way OFREP providers do: a
 * failure or a response without a value yields the fallback; a value of another type than asked
 * for is TYPE_MISMATCH (OFREP leaves type checks to the client, ADR-0003).
 */
export function toDetails(type: FlagType, fallback: unknown, status: number, body: any): Details {
  const metadata = (body?.metadata ?? {}) as Record<string, unknown>;
  if (status !== 200) return { value: fallback, reason: "ERROR", errorCode: body?.errorCode, metadata };
  if (!("value" in body)) return { value: fallback, reason: body.reason, metadata };
  if (!typeMatches(type, body.value)) return { value: fallback, reason: "ERROR", errorCode: "TYPE_MISMATCH", metadata };
  return { value: body.value, reason: body.reason, variant: body.variant, metadata };
}
