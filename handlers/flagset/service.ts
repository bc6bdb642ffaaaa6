import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isDeepStrictEqual } from "node:util";
import { isServiceError, type ServiceError, serviceError } from "../errors";
import type { EvaluatorItem } from "../evaluators/model";
import { makeEvaluatorReads, type EvaluatorStore } from "../evaluators/store";
import { checkEvaluatorExpression, referencedEvaluators } from "../flags/definition";
import type { FlagItem } from "../flags/model";
import type { FlagStore } from "../flags/store";
import {
  type CreateFlagInput,
  FLAG_NAME_PATTERN,
  type FlagSchemas,
  flagSchemas,
  parseCreateFlag,
} from "../flags/validation";
import { makeDynamoFlagSetSource } from "../ofrep/flagSet";
import { type DocumentFlag, documentFlag, flagDiffers, type FlagSetDocument, toDocument } from "./document";

/** What an import did (or, in a dry run, would do), per kind. */
export interface ChangeSummary {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: number;
}

export interface FlagSetSummary {
  flags: ChangeSummary;
  evaluators: ChangeSummary;
}

/** At most this many problems are named in one 400: enough to fix a document in a few rounds. */
const MAX_PROBLEMS = 20;
/** Top-level fields of a flagd flag-set document. */
const DOCUMENT_FIELDS: readonly string[] = ["$schema", "flags", "$evaluators", "metadata"];

/** Where the flag set is read: both tables, and the flag-set version item. */
export interface FlagSetTables {
  doc: DynamoDBDocumentClient;
  flagsTable: string;
  evaluatorsTable: string;
}

export interface FlagSetDeps extends FlagSetTables {
  flags: FlagStore;
  evaluators: EvaluatorStore;
  /** Whether `DELETE /flags/{flagName}` is allowed now: a prune that would delete is refused otherwise. */
  isDeletionAllowed: () => Promise<boolean>;
  /** What a flag's deletion does besides (its schedules cancelled, its rollout ended), as DELETE does. */
  onFlagDeleted?: (flagName: string, actor: string | null) => Promise<unknown>;
}

interface Current {
  version: number;
  flags: Map<string, FlagItem>;
  evaluators: Map<string, EvaluatorItem>;
}

/** The document's changes, checked, against the flag set it was planned on. */
interface Plan {
  flags: { create: CreateFlagInput[]; update: Array<{ input: CreateFlagInput; version: number }>; remove: string[] };
  evaluators: {
    create: Array<{ name: string; expression: unknown }>;
    update: Array<{ name: string; expression: unknown; version: number }>;
    remove: string[];
  };
  unchanged: { flags: number; evaluators: number };
}

const summaryOf = (plan: Plan): FlagSetSummary => ({
  flags: {
    created: plan.flags.create.map((input) => input.flagName),
    updated: plan.flags.update.map(({ input }) => input.flagName),
    deleted: plan.flags.remove,
    unchanged: plan.unchanged.flags,
  },
  evaluators: {
    created: plan.evaluators.create.map(({ name }) => name),
    updated: plan.evaluators.update.map(({ name }) => name),
    deleted: plan.evaluators.remove,
    unchanged: plan.unchanged.evaluators,
  },
});

/** The flag set's ETag: its version, which every change to a flag or an evaluator moves. */
export const flagSetEtag = (version: number): string => `"${version}"`;

/** `If-Match` of the flag set: its ETag (`"12"`, `W/"12"` or `12`). */
export function parseFlagSetIfMatch(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?([0-9]{1,15})"?\s*$/.exec(raw);
  if (match === null)
    throw serviceError("VALIDATION_FAILED", 'If-Match must be the ETag of GET /flagset, e.g. If-Match: "12"');
  return Number(match[1]);
}

/** The error of a failed import step, with what the import had applied before it. */
export interface PartialImportError extends ServiceError {
  applied: FlagSetSummary;
}

/**
 * Flags as code: the whole flag set as one flagd document, and its import. An import checks the
 * entire document (flagd's schema for each flag, this service's names, rules and evaluation
 * bounds, every `$ref`) and plans it against the current flag set before it changes anything;
 * then it applies each change as the ordinary, audited write the REST API makes (the importing
 * token its actor), each conditional on the version it was planned against.
 *
 * Not one transaction: DynamoDB's hold at most 100 actions, and one flag write is up to 19 (its
 * evaluator references, the flag-set version, its history entry), so a document of more than a
 * handful of flags cannot commit at once. What holds instead: a document with any problem changes
 * nothing; `If-Match` refuses a set that moved since it was read; and if a concurrent change
 * breaks in during the apply, it stops at the first write that finds its flag moved and answers
 * with what it had applied (`applied`), so nothing is half done without being named.
 */
export function makeFlagSets(deps: FlagSetDeps) {
  let schemas: FlagSchemas | undefined;
  const reader = makeFlagSetReader(deps);
  const { current } = reader;

  /** Every problem of the document, or its plan against `now`. */
  const plan = (body: unknown, now: Current, prune: boolean): Plan => {
    const problems: string[] = [];
    const fail = () => {
      if (problems.length > 0) {
        const shown = problems.slice(0, MAX_PROBLEMS);
        const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : "";
        throw serviceError("VALIDATION_FAILED", `${shown.join("; ")}${more}`);
      }
    };
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw serviceError("VALIDATION_FAILED", 'body: must be a flagd flag-set document, {"flags": {...}}');
    }
    const document = body as Partial<FlagSetDocument> & Record<string, unknown>;
    for (const field of Object.keys(document)) {
      if (!DOCUMENT_FIELDS.includes(field)) problems.push(`${field}: not a field of a flagd flag-set document`);
    }
    const isObject = (value: unknown) => value !== null && typeof value === "object" && !Array.isArray(value);
    if (!isObject(document.flags)) problems.push("flags: required, an object of flag names to flags");
    if (document.$evaluators !== undefined && !isObject(document.$evaluators)) {
      problems.push("$evaluators: an object of evaluator names to JsonLogic rules");
    }
    fail();
    const flags = document.flags as Record<string, unknown>;
    const evaluators = (document.$evaluators ?? {}) as Record<string, unknown>;

    const result: Plan = {
      flags: { create: [], update: [], remove: [] },
      evaluators: { create: [], update: [], remove: [] },
      unchanged: { flags: 0, evaluators: 0 },
    };
    for (const [name, expression] of Object.entries(evaluators)) {
      if (!FLAG_NAME_PATTERN.test(name)) {
        problems.push(`$evaluators.${name}: an evaluator name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`);
        continue;
      }
      try {
        checkEvaluatorExpression(expression);
      } catch (error) {
        if (!isServiceError(error)) throw error;
        problems.push(`$evaluators.${name}: ${error.message}`);
        continue;
      }
      const stored = now.evaluators.get(name);
      if (stored === undefined) result.evaluators.create.push({ name, expression });
      else if (isDeepStrictEqual(JSON.parse(stored.expressionJson), expression)) result.unchanged.evaluators++;
      else result.evaluators.update.push({ name, expression, version: Number(stored.version) });
    }
    if (prune) result.evaluators.remove = [...now.evaluators.keys()].filter((name) => !(name in evaluators)).sort();
    // What a `$ref` may name once the document is in: its evaluators, and the stored ones it keeps.
    const available = new Set([
      ...Object.keys(evaluators),
      ...[...now.evaluators.keys()].filter((n) => !result.evaluators.remove.includes(n)),
    ]);

    schemas ??= flagSchemas();
    for (const [flagName, raw] of Object.entries(flags)) {
      if (!isObject(raw)) {
        problems.push(`flags.${flagName}: a flag is an object {state, variants, defaultVariant, ...}`);
        continue;
      }
      let input: CreateFlagInput;
      try {
        if (!FLAG_NAME_PATTERN.test(flagName)) {
          throw serviceError("VALIDATION_FAILED", "a flag name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
        }
        input = parseCreateFlag({ ...(raw as object), flagName }, schemas);
        const missing = referencedEvaluators(input.definition?.targeting).filter((ref) => !available.has(ref));
        if (missing.length > 0) {
          throw serviceError(
            "VALIDATION_FAILED",
            `targeting: $ref '${missing[0]}' names no evaluator of the document or the service`,
          );
        }
      } catch (error) {
        if (!isServiceError(error)) throw error;
        problems.push(`flags.${flagName}: ${error.message}`);
        continue;
      }
      const stored = now.flags.get(flagName);
      if (stored === undefined) result.flags.create.push(input);
      else if (!flagDiffers(documentFlag(stored), raw as DocumentFlag)) result.unchanged.flags++;
      else result.flags.update.push({ input, version: Number(stored.version) });
    }
    if (prune) result.flags.remove = [...now.flags.keys()].filter((name) => !(name in flags)).sort();
    fail();
    return result;
  };

  /** Refusals that depend on the service's state, before anything changes. */
  const admissible = async (planned: Plan, now: Current) => {
    const held = [...planned.flags.update.map(({ input }) => input.flagName), ...planned.flags.remove].filter(
      (name) => now.flags.get(name)?.rolloutStartedAt !== undefined,
    );
    if (held.length > 0) {
      throw serviceError(
        "ROLLOUT_RUNNING",
        `a rollout is running on ${held.map((n) => `'${n}'`).join(", ")}; abort it (or let it complete) first`,
      );
    }
    const deletes = planned.flags.remove.length + planned.evaluators.remove.length;
    if (deletes > 0 && !(await deps.isDeletionAllowed())) {
      throw serviceError(
        "DELETION_DISABLED",
        `pruning would delete ${planned.flags.remove.length} flag(s) and ${planned.evaluators.remove.length} evaluator(s), and deletion is disabled (pulumi config set allowFlagDeletion true)`,
      );
    }
  };

  return {
    export: reader.export,

    /**
     * `PUT /flagset`: checks and plans the document; unless `dryRun`, applies it (evaluators it
     * adds or changes first, so flags may reference them; evaluators it prunes last, once no flag
     * it prunes references them).
     */
    async import(
      body: unknown,
      options: { dryRun: boolean; prune: boolean; ifMatch?: number; actor: string | null },
    ): Promise<{ summary: FlagSetSummary; etag?: string }> {
      const now = await current();
      const planned = plan(body, now, options.prune);
      if (options.ifMatch !== undefined && options.ifMatch !== now.version) {
        throw serviceError(
          "VERSION_CONFLICT",
          `the flag set is at ${flagSetEtag(now.version)}, not ${flagSetEtag(options.ifMatch)}; read it again (GET /flagset) and retry`,
        );
      }
      const summary = summaryOf(planned);
      if (options.dryRun) return { summary };
      await admissible(planned, now);

      const applied: FlagSetSummary = {
        flags: { created: [], updated: [], deleted: [], unchanged: planned.unchanged.flags },
        evaluators: { created: [], updated: [], deleted: [], unchanged: planned.unchanged.evaluators },
      };
      const step = async (what: string, run: () => Promise<unknown>, done: () => void) => {
        try {
          await run();
          done();
        } catch (error) {
          if (!isServiceError(error)) throw error;
          const partial = serviceError(
            error.code,
            `${what}: ${error.message}; the import stopped there (see applied)`,
          ) as PartialImportError;
          partial.applied = applied;
          throw partial;
        }
      };
      const { actor } = options;
      for (const { name, expression } of planned.evaluators.create) {
        // A create only: 412 if someone created it meanwhile.
        await step(
          `evaluator '${name}'`,
          () => deps.evaluators.put(name, expression, actor, 0),
          () => applied.evaluators.created.push(name),
        );
      }
      for (const { name, expression, version } of planned.evaluators.update) {
        await step(
          `evaluator '${name}'`,
          () => deps.evaluators.put(name, expression, actor, version),
          () => applied.evaluators.updated.push(name),
        );
      }
      for (const input of planned.flags.create) {
        await step(
          `flag '${input.flagName}'`,
          () => deps.flags.create(input, actor),
          () => applied.flags.created.push(input.flagName),
        );
      }
      for (const { input, version } of planned.flags.update) {
        const { flagName, ...update } = input;
        await step(
          `flag '${flagName}'`,
          () => deps.flags.update(flagName, update, actor, version),
          () => applied.flags.updated.push(flagName),
        );
      }
      for (const flagName of planned.flags.remove) {
        await step(
          `flag '${flagName}'`,
          async () => {
            await deps.flags.remove(flagName, actor);
            await deps.onFlagDeleted?.(flagName, actor);
          },
          () => applied.flags.deleted.push(flagName),
        );
      }
      for (const name of planned.evaluators.remove) {
        await step(
          `evaluator '${name}'`,
          () => deps.evaluators.remove(name, actor),
          () => applied.evaluators.deleted.push(name),
        );
      }
      return { summary: applied, etag: flagSetEtag((await current()).version) };
    },
  };
}

export type FlagSets = ReturnType<typeof makeFlagSets>;

/** The flag set as it is now, and its export: what `GET /flagset` (the read function) needs. */
export function makeFlagSetReader({ doc, flagsTable, evaluatorsTable }: FlagSetTables) {
  const source = makeDynamoFlagSetSource({ doc, flagsTable, evaluatorsTable });
  const evaluatorReads = makeEvaluatorReads({ doc, tableName: evaluatorsTable });

  /** The flag set, read after its version: a change in between makes the version stale, never newer. */
  const current = async (): Promise<Current> => {
    const version = await source.version();
    const [{ items }, evaluators] = await Promise.all([source.load(), evaluatorReads.scanItems()]);
    return {
      version,
      flags: new Map(items.map((item) => [item.flagName, item])),
      evaluators: new Map(evaluators.map((item) => [item.name, item])),
    };
  };

  return {
    current,
    /** `GET /flagset`: the document and its ETag. */
    async export(): Promise<{ document: FlagSetDocument; etag: string }> {
      const now = await current();
      return {
        document: toDocument([...now.flags.values()], [...now.evaluators.values()]),
        etag: flagSetEtag(now.version),
      };
    },
  };
}
