import { useEffect, useState } from "preact/hooks";
import type { Session } from "../session";
import {
  type Condition,
  isGroup,
  type Leaf,
  listFromText,
  listText,
  modelProblems,
  parseTargeting,
  type Rule,
  SEM_VER_OPS,
  type SemVerOp,
  scalarFromText,
  serializeTargeting,
  type Split,
  type TargetingModel,
  twoWaySplit,
  withPercent,
} from "./model";
import { RolloutSlider } from "./RolloutSlider";

/** The model of the targeting field's text ("" is no targeting; text that is not JSON stays JSON). */
export function modelOfText(text: string): TargetingModel {
  if (text.trim() === "") return { kind: "none" };
  try {
    return parseTargeting(JSON.parse(text));
  } catch (error) {
    return { kind: "unsupported", reason: `not valid JSON (${(error as Error).message})` };
  }
}

/** The targeting field's text for a model, formatted as the editor shows a stored flag's. */
export const textOfModel = (model: TargetingModel): string =>
  model.kind === "none" ? "" : JSON.stringify(serializeTargeting(model), null, 2);

/** The variant names of the variants field's text (none while it is not a JSON object). */
export function variantNames(variantsText: string): string[] {
  try {
    const variants: unknown = JSON.parse(variantsText);
    return variants !== null && typeof variants === "object" && !Array.isArray(variants) ? Object.keys(variants) : [];
  } catch {
    return [];
  }
}

/**
 * What the rules form refuses before Save, for targeting of a shape it shows (empty lists and
 * attributes, variants the flag lacks, evaluators that do not exist); the service's own checks
 * (checkForm) run after these.
 */
export function targetingProblems(targetingText: string, variantsText: string, evaluators?: string[]): string[] {
  const model = modelOfText(targetingText);
  if (model.kind === "unsupported" || model.kind === "none") return [];
  return modelProblems(model, variantNames(variantsText), evaluators).map((problem) => `targeting: ${problem}`);
}

/** The shared evaluators' names (GET /evaluators); undefined until read, or when they cannot be. */
export function useEvaluatorNames(session: Session): string[] | undefined {
  const [names, setNames] = useState<string[]>();
  useEffect(() => {
    session.api
      .evaluators()
      .then(({ evaluators }) => setNames(evaluators.map((evaluator) => evaluator.name).sort()))
      .catch(() => setNames(undefined));
  }, [session]);
  return names;
}

interface Props {
  /** The targeting as JSON text, as the edit form holds it. */
  text: string;
  onText: (text: string) => void;
  variants: string[];
  defaultVariant: string;
  /** The stored flag's targeting: the slider says what Save changes against it. */
  stored: unknown;
  evaluators?: string[];
}

type LeafKind = Leaf["kind"];
const LEAF_KINDS: [LeafKind, string][] = [
  ["equals", "equals"],
  ["in", "is one of"],
  ["starts_with", "starts with"],
  ["ends_with", "ends with"],
  ["sem_ver", "version (semver)"],
  ["ref", "matches shared evaluator"],
];

/** A leaf of another kind, keeping what carries over (the attribute, a value). */
function changeKind(leaf: Leaf, kind: LeafKind): Leaf {
  const attribute = leaf.kind === "ref" ? "" : leaf.attribute;
  const first = leaf.kind === "ref" ? "" : leaf.kind === "in" ? String(leaf.values[0] ?? "") : String(leaf.value);
  switch (kind) {
    case "equals":
      return { kind, attribute, value: first };
    case "in":
      return { kind, attribute, values: first === "" ? [] : [first] };
    case "starts_with":
    case "ends_with":
      return { kind, attribute, value: first };
    case "sem_ver":
      return { kind, attribute, op: ">=", value: first };
    case "ref":
      return { kind, name: "" };
  }
}

const leavesOf = (condition: Condition): Leaf[] => (isGroup(condition) ? condition.conditions : [condition]);

/**
 * The flag's targeting as a form for the common shapes (rules of attribute tests combined with
 * and/or, each serving a variant, then an otherwise; or a percentage split), with the JSON it
 * stands for beneath it (still `Targeting (JsonLogic)`, editable, read back into the form) or, on
 * the JSON tab, alone. A targeting the form cannot show stays JSON, and the form says why.
 */
export function RulesEditor(props: Props) {
  const { variants } = props;
  const [state, setState] = useState(() => ({ text: props.text, model: modelOfText(props.text) }));
  // The text changed elsewhere (the JSON tab, a newer version shown): read it again.
  const model = state.text === props.text ? state.model : modelOfText(props.text);
  const [mode, setMode] = useState<"form" | "json">(() =>
    variants.length === 0 || model.kind === "unsupported" ? "json" : "form",
  );
  const update = (next: TargetingModel) => {
    const text = textOfModel(next);
    setState({ text, model: next });
    props.onText(text);
  };
  const storedModel = parseTargeting(props.stored ?? undefined);
  const fallback = variants.find((name) => name !== props.defaultVariant) ?? variants[0] ?? "";
  const defaultName = variants.includes(props.defaultVariant) ? props.defaultVariant : (variants[0] ?? "");

  const startKind = (kind: string) => {
    if (kind === "none") update({ kind: "none" });
    if (kind === "rules")
      update({
        kind: "rules",
        rules: [{ condition: { kind: "in", attribute: "", values: [] }, variant: fallback }],
        otherwise: defaultName,
      });
    if (kind === "fractional")
      update({
        kind: "fractional",
        splits:
          variants.length >= 2
            ? [
                { variant: fallback, weight: 0 },
                { variant: defaultName === fallback ? variants[1] : defaultName, weight: 100 },
              ]
            : [{ variant: fallback, weight: 100 }],
      });
  };

  const tabs = (
    <div class="rules-tabs" role="group" aria-label="Edit targeting as">
      <button type="button" aria-pressed={mode === "form"} onClick={() => setMode("form")}>
        Form
      </button>
      <button type="button" aria-pressed={mode === "json"} onClick={() => setMode("json")}>
        JSON
      </button>
    </div>
  );
  const json = (
    <label>
      Targeting (JsonLogic)
      <textarea
        rows={4}
        value={props.text}
        onInput={(event) => props.onText(event.currentTarget.value)}
        placeholder='{"fractional": [["on", 10], ["off", 90]]}'
      />
    </label>
  );
  return (
    <section class="rules" aria-label="Targeting">
      <div class="rules-head">
        <h4>Targeting</h4>
        {tabs}
      </div>
      {mode === "json" ? (
        json
      ) : model.kind === "unsupported" ? (
        <>
          <p class="note" role="note">
            The form cannot show this targeting ({model.reason}); edit it as JSON.
          </p>
          {json}
        </>
      ) : variants.length === 0 ? (
        <>
          <p class="note" role="note">
            Targeting chooses between variants: add variants (JSON) above to edit rules in the form.
          </p>
          {json}
        </>
      ) : (
        <>
          <label>
            Who gets what
            <select
              aria-label="Who gets what"
              value={model.kind}
              onChange={(event) => startKind(event.currentTarget.value)}
            >
              <option value="none">Everyone gets the default variant</option>
              <option value="rules">Rules</option>
              <option value="fractional">Percentage split</option>
            </select>
          </label>
          {model.kind === "rules" && (
            <RulesForm model={model} variants={variants} evaluators={props.evaluators} onChange={update} />
          )}
          {model.kind === "fractional" && (
            <SplitForm model={model} variants={variants} stored={storedModel} onChange={update} />
          )}
          {/* The JSON the form stands for, always in view and editable: the form reads it back. */}
          {json}
        </>
      )}
    </section>
  );
}

function VariantSelect(props: {
  label: string;
  value: string | undefined;
  variants: string[];
  /** The label of "no variant" (the default variant), when that is a choice. */
  none?: string;
  onChange: (value: string | undefined) => void;
}) {
  const known = props.value === undefined || props.variants.includes(props.value);
  return (
    <label>
      {props.label}
      <select
        aria-label={props.label}
        value={props.value ?? ""}
        onChange={(event) => props.onChange(event.currentTarget.value === "" ? undefined : event.currentTarget.value)}
      >
        {props.none !== undefined && <option value="">{props.none}</option>}
        {!known && <option value={props.value}>{props.value} (not a variant)</option>}
        {props.variants.map((name) => (
          <option value={name}>{name}</option>
        ))}
      </select>
    </label>
  );
}

function RulesForm(props: {
  model: TargetingModel & { kind: "rules" };
  variants: string[];
  evaluators?: string[];
  onChange: (model: TargetingModel) => void;
}) {
  const { model, variants } = props;
  const setRule = (index: number, rule: Rule | undefined) => {
    const rules = [...model.rules];
    if (rule === undefined) rules.splice(index, 1);
    else rules[index] = rule;
    props.onChange({ ...model, rules });
  };
  const addRule = () =>
    props.onChange({
      ...model,
      rules: [...model.rules, { condition: { kind: "equals", attribute: "", value: "" }, variant: variants[0] ?? "" }],
    });
  return (
    <>
      <ol class="rules-list">
        {model.rules.map((rule, index) => (
          <li>
            <RuleForm
              index={index}
              rule={rule}
              variants={variants}
              evaluators={props.evaluators}
              onChange={(next) => setRule(index, next)}
            />
          </li>
        ))}
      </ol>
      <button type="button" onClick={addRule}>
        Add rule
      </button>
      <VariantSelect
        label="Otherwise serve"
        value={model.otherwise}
        variants={variants}
        none="the default variant"
        onChange={(otherwise) => props.onChange({ ...model, otherwise })}
      />
    </>
  );
}

function RuleForm(props: {
  index: number;
  rule: Rule;
  variants: string[];
  evaluators?: string[];
  onChange: (rule: Rule | undefined) => void;
}) {
  const { rule } = props;
  const leaves = leavesOf(rule.condition);
  const group = isGroup(rule.condition) ? rule.condition.kind : undefined;
  const setLeaves = (next: Leaf[], combinator = group) => {
    // One test needs no and/or; a stored group of one is kept as it is until its tests change in number.
    const condition: Condition =
      next.length === 1 && (combinator === undefined || next.length !== leaves.length)
        ? next[0]
        : { kind: combinator ?? "and", conditions: next };
    props.onChange({ ...rule, condition });
  };
  const setLeaf = (index: number, leaf: Leaf | undefined) => {
    const next = [...leaves];
    if (leaf === undefined) next.splice(index, 1);
    else next[index] = leaf;
    setLeaves(next);
  };
  return (
    <fieldset class="rule">
      <legend>Rule {props.index + 1}</legend>
      {(group !== undefined || leaves.length > 1) && (
        <label>
          Match
          <select
            aria-label="Match"
            value={group ?? "and"}
            onChange={(event) => setLeaves(leaves, event.currentTarget.value as "and")}
          >
            <option value="and">all of these (and)</option>
            <option value="or">any of these (or)</option>
          </select>
        </label>
      )}
      {leaves.map((leaf, index) => (
        <LeafForm
          leaf={leaf}
          label={leaves.length > 1 ? `Condition ${index + 1}` : "Condition"}
          evaluators={props.evaluators}
          onChange={(next) => setLeaf(index, next)}
          removable={leaves.length > 1}
        />
      ))}
      <div class="actions">
        <button
          type="button"
          onClick={() => setLeaves([...leaves, { kind: "equals", attribute: "", value: "" }], group ?? "and")}
        >
          Add condition
        </button>
        <button type="button" class="danger" onClick={() => props.onChange(undefined)}>
          Remove rule
        </button>
      </div>
      <VariantSelect
        label="Serve variant"
        value={rule.variant}
        variants={props.variants}
        onChange={(variant) => props.onChange({ ...rule, variant: variant ?? "" })}
      />
    </fieldset>
  );
}

function LeafForm(props: {
  leaf: Leaf;
  label: string;
  evaluators?: string[];
  removable: boolean;
  onChange: (leaf: Leaf | undefined) => void;
}) {
  const { leaf } = props;
  const names = props.evaluators ?? [];
  return (
    <div class="condition" role="group" aria-label={props.label}>
      {leaf.kind !== "ref" && (
        <label>
          Attribute
          <input
            value={leaf.attribute}
            placeholder="country"
            onInput={(event) => props.onChange({ ...leaf, attribute: event.currentTarget.value })}
          />
        </label>
      )}
      <label>
        Operator
        <select
          aria-label="Operator"
          value={leaf.kind}
          onChange={(event) => props.onChange(changeKind(leaf, event.currentTarget.value as LeafKind))}
        >
          {LEAF_KINDS.map(([kind, words]) => (
            <option value={kind}>{words}</option>
          ))}
        </select>
      </label>
      {leaf.kind === "equals" && (
        <label>
          Value
          <input
            value={String(leaf.value)}
            onInput={(event) =>
              props.onChange({ ...leaf, value: scalarFromText(event.currentTarget.value, leaf.value) })
            }
          />
        </label>
      )}
      {leaf.kind === "in" && (
        <label>
          Values (comma-separated)
          <input
            value={listText(leaf.values)}
            placeholder="de, fr"
            onInput={(event) =>
              props.onChange({ ...leaf, values: listFromText(event.currentTarget.value, leaf.values) })
            }
          />
        </label>
      )}
      {(leaf.kind === "starts_with" || leaf.kind === "ends_with") && (
        <label>
          {leaf.kind === "starts_with" ? "Prefix" : "Suffix"}
          <input
            value={leaf.value}
            onInput={(event) => props.onChange({ ...leaf, value: event.currentTarget.value })}
          />
        </label>
      )}
      {leaf.kind === "sem_ver" && (
        <>
          <label>
            Comparison
            <select
              aria-label="Comparison"
              value={leaf.op}
              onChange={(event) => props.onChange({ ...leaf, op: event.currentTarget.value as SemVerOp })}
            >
              {SEM_VER_OPS.map((op) => (
                <option value={op}>{op}</option>
              ))}
            </select>
          </label>
          <label>
            Version
            <input
              value={leaf.value}
              placeholder="1.2.0"
              onInput={(event) => props.onChange({ ...leaf, value: event.currentTarget.value })}
            />
          </label>
        </>
      )}
      {leaf.kind === "ref" && (
        <label>
          Shared evaluator
          <select
            aria-label="Shared evaluator"
            value={leaf.name}
            onChange={(event) => props.onChange({ ...leaf, name: event.currentTarget.value })}
          >
            <option value="">— pick one —</option>
            {leaf.name !== "" && !names.includes(leaf.name) && <option value={leaf.name}>{leaf.name}</option>}
            {names.map((name) => (
              <option value={name}>{name}</option>
            ))}
          </select>
        </label>
      )}
      {props.removable && (
        <button type="button" class="danger" onClick={() => props.onChange(undefined)}>
          Remove condition
        </button>
      )}
    </div>
  );
}

function SplitForm(props: {
  model: TargetingModel & { kind: "fractional" };
  variants: string[];
  stored: TargetingModel;
  onChange: (model: TargetingModel) => void;
}) {
  const { model, variants } = props;
  const split = twoWaySplit(model);
  const setSplit = (index: number, next: Split | undefined) => {
    const splits = [...model.splits];
    if (next === undefined) splits.splice(index, 1);
    else splits[index] = next;
    props.onChange({ ...model, splits });
  };
  return (
    <div class="split">
      {split !== undefined && (
        <RolloutSlider
          split={split}
          stored={props.stored}
          onPercent={(percent) => props.onChange(withPercent(model, percent))}
        />
      )}
      <ol class="buckets">
        {model.splits.map((bucket, index) => (
          <li class="bucket" role="group" aria-label={`Bucket ${index + 1}`}>
            <VariantSelect
              label="Variant"
              value={bucket.variant}
              variants={variants}
              onChange={(variant) => setSplit(index, { ...bucket, variant: variant ?? "" })}
            />
            <label>
              Weight
              <input
                type="number"
                min={0}
                step={1}
                value={bucket.weight}
                onInput={(event) => setSplit(index, { ...bucket, weight: event.currentTarget.valueAsNumber })}
              />
            </label>
            {model.splits.length > 1 && (
              <button type="button" class="danger" onClick={() => setSplit(index, undefined)}>
                Remove bucket
              </button>
            )}
          </li>
        ))}
      </ol>
      <button
        type="button"
        onClick={() =>
          props.onChange({ ...model, splits: [...model.splits, { variant: variants[0] ?? "", weight: 0 }] })
        }
      >
        Add bucket
      </button>
      {model.bucketBy !== undefined && (
        <p class="hint">
          Users are bucketed by <code>{JSON.stringify(model.bucketBy)}</code> (kept as it is).
        </p>
      )}
    </div>
  );
}
