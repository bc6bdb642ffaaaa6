import { useEffect, useState } from "preact/hooks";
import { ApiError, type Evaluation, type HistoryEntry } from "./api";
import { referencedEvaluators } from "../../handlers/flags/definition";
import { ComparePicker, DiffTable } from "./diffTable";
import { changeKind } from "./evaluators";
import { FlagName } from "./flagName";
import { type DiffLine, definitionBody, diffFlags } from "./logic/diff";
import { checkForm, type FlagForm, formFromFlag } from "./logic/editor";
import type { Flag } from "./logic/flags";
import { RulesEditor, targetingProblems, useEvaluatorNames, variantNames } from "./rules/RulesEditor";
import { ROLLOUT_HOLD_REASON, RolloutSection, useRollout } from "./rollout";
import { Schedules } from "./schedules";
import { READ_ONLY_REASON, type Session } from "./session";

const DELETION_OFF_REASON =
  "Deletion is switched off for this stack (allowFlagDeletion is false): `pulumi config set allowFlagDeletion true` and `pulumi up` to allow it.";

interface PanelProps {
  session: Session;
  flag: Flag;
  /** The shared evaluators as last pushed: the history follows their changes. */
  evaluators?: Record<string, unknown>;
  onSaved: (flag: Flag) => void;
  onDeleted: (flagName: string) => void;
  onClose: () => void;
}

export function FlagPanel(props: PanelProps) {
  const { flag } = props;
  const rollout = useRollout(props.session, flag, () => void latest(props.session, flag.flagName).then(props.onSaved));
  // While a rollout runs the API refuses PUTs of the flag (409 ROLLOUT_RUNNING): say so up front.
  const heldBy = rollout.rollout?.status === "running" ? ROLLOUT_HOLD_REASON : undefined;
  return (
    <section class="panel" aria-label={`Details of ${flag.flagName}`}>
      <div class="panel-head">
        <h2>
          <FlagName name={flag.flagName} />
        </h2>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
      <p class="hint">
        Version {flag.version}, changed {new Date(flag.updatedAt).toLocaleString()} by {flag.updatedBy ?? "unknown"}
      </p>
      <Editor {...props} heldBy={heldBy} />
      <RolloutSection session={props.session} flag={flag} state={rollout} />
      <Schedules session={props.session} flag={flag} />
      <Evaluate session={props.session} flagName={flag.flagName} />
      <History
        session={props.session}
        flag={flag}
        evaluators={props.evaluators}
        onSaved={props.onSaved}
        heldBy={heldBy}
      />
    </section>
  );
}

interface Conflict {
  current: Flag;
  lines: DiffLine[];
}

/** The newest version and who made it, from the history (reads never touch lastAccessed there). */
async function latest(session: Session, flagName: string): Promise<Flag> {
  try {
    const { versions } = await session.api.history(flagName);
    const newest = versions[0]?.flag;
    if (newest !== undefined && newest !== null) return newest;
  } catch {
    // No history endpoint: read the flag itself.
  }
  return session.api.getFlag(flagName);
}

function Editor(props: PanelProps & { heldBy?: string }) {
  const { session, flag, heldBy } = props;
  const readOnly = session.scope === "read";
  const [base, setBase] = useState(flag);
  const [form, setForm] = useState<FlagForm>(() => formFromFlag(flag));
  const [errors, setErrors] = useState<string[]>([]);
  const [conflict, setConflict] = useState<Conflict>();
  const [saved, setSaved] = useState<string>();
  const evaluatorNames = useEvaluatorNames(session);
  const dirty = JSON.stringify(form) !== JSON.stringify(formFromFlag(base));
  // A change that arrives live while nothing was typed is simply shown.
  useEffect(() => {
    if (flag.version > base.version && !dirty) {
      setBase(flag);
      setForm(formFromFlag(flag));
    }
  }, [flag.version]);
  const field = (name: keyof FlagForm) => (event: Event) =>
    setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value });
  const save = async (event: Event) => {
    event.preventDefault();
    setSaved(undefined);
    // The rules form's own refusals (an empty list, a variant the flag lacks) before the service's.
    const problems = targetingProblems(form.targeting, form.variants, evaluatorNames);
    if (problems.length > 0) return setErrors(problems);
    const checked = checkForm(flag.flagName, form);
    if (!checked.ok) return setErrors(checked.errors);
    setErrors([]);
    try {
      const updated = await session.api.updateFlag(flag.flagName, checked.body, base.version);
      setBase(updated);
      setForm(formFromFlag(updated));
      setConflict(undefined);
      setSaved(`Saved as version ${updated.version}.`);
      props.onSaved(updated);
    } catch (error) {
      if (error instanceof ApiError && error.code === "VERSION_CONFLICT") {
        const current = await latest(session, flag.flagName);
        // What the user typed stays; the next Save knowingly replaces the newer version.
        setConflict({ current, lines: diffFlags(base, current) });
        setBase(current);
        props.onSaved(current);
      } else {
        setErrors([(error as Error).message]);
      }
    }
  };
  const remove = async () => {
    if (!confirm(`Delete flag ${flag.flagName}? Applications will get their code defaults.`)) return;
    try {
      await session.api.deleteFlag(flag.flagName);
      props.onDeleted(flag.flagName);
    } catch (error) {
      setErrors([(error as Error).message]);
    }
  };
  const deletionOff = session.allowFlagDeletion === false;
  const rich = form.variants.trim() !== "";
  return (
    <form class="editor" onSubmit={save} aria-label="Edit flag">
      <h3>Edit</h3>
      <fieldset disabled={readOnly}>
        <label>
          Value (JSON){rich && " — a flag with variants takes its default variant's value"}
          <textarea rows={2} value={form.value} onInput={field("value")} disabled={rich} />
        </label>
        <label>
          Description
          <input value={form.description} onInput={field("description")} />
        </label>
        <label>
          State
          <select value={form.state} onChange={field("state")}>
            <option value="ENABLED">ENABLED</option>
            <option value="DISABLED">DISABLED</option>
          </select>
        </label>
        <label>
          Variants (JSON)
          <textarea
            rows={3}
            value={form.variants}
            onInput={field("variants")}
            placeholder='{"on": true, "off": false}'
          />
        </label>
        <label>
          Default variant
          <input value={form.defaultVariant} onInput={field("defaultVariant")} />
        </label>
        <RulesEditor
          text={form.targeting}
          onText={(targeting) => setForm({ ...form, targeting })}
          variants={variantNames(form.variants)}
          defaultVariant={form.defaultVariant}
          stored={base.targeting}
          evaluators={evaluatorNames}
        />
        <label>
          Metadata (JSON)
          <textarea rows={2} value={form.metadata} onInput={field("metadata")} />
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={form.clientSide}
            aria-describedby="client-side-hint"
            onChange={(event) => setForm({ ...form, clientSide: event.currentTarget.checked })}
          />
          Client-side (visible to client keys)
        </label>
        <p id="client-side-hint" class="hint">
          Pages using a client key can evaluate this flag through OFREP; they never see its rules.
        </p>
      </fieldset>
      {errors.length > 0 && (
        <ul role="alert" class="error">
          {errors.map((e) => (
            <li>{e}</li>
          ))}
        </ul>
      )}
      {conflict !== undefined && (
        <div role="alert" class="conflict">
          <p>
            {conflict.current.updatedBy ?? "Someone"} changed this flag at{" "}
            {new Date(conflict.current.updatedAt).toLocaleString()} (now version {conflict.current.version}). Your edits
            are kept below; Save again to replace their version with yours.
          </p>
          <DiffTable lines={conflict.lines} caption="Their change" />
        </div>
      )}
      {saved !== undefined && (
        <p role="status" class="ok">
          {saved}
        </p>
      )}
      {heldBy !== undefined && !readOnly && (
        <p id="save-held" class="hint held">
          {heldBy}
        </p>
      )}
      <div class="actions">
        <button
          type="submit"
          disabled={readOnly || heldBy !== undefined}
          title={readOnly ? READ_ONLY_REASON : heldBy}
          aria-describedby={heldBy === undefined ? undefined : "save-held"}
        >
          Save
        </button>
        <button
          type="button"
          class="danger"
          disabled={readOnly || deletionOff}
          title={readOnly ? READ_ONLY_REASON : deletionOff ? DELETION_OFF_REASON : undefined}
          aria-describedby="delete-reason"
          onClick={() => void remove()}
        >
          Delete
        </button>
        {(readOnly || deletionOff) && (
          <span id="delete-reason" class="hint">
            {readOnly ? READ_ONLY_REASON : DELETION_OFF_REASON}
          </span>
        )}
      </div>
    </form>
  );
}

function Evaluate(props: { session: Session; flagName: string }) {
  const [context, setContext] = useState('{\n  "targetingKey": "user-1"\n}');
  const [result, setResult] = useState<Evaluation>();
  const [error, setError] = useState<string>();
  const run = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(context);
    } catch (caught) {
      return setError(`Context: not valid JSON (${(caught as Error).message})`);
    }
    setError(undefined);
    try {
      setResult(await props.session.api.evaluate(props.flagName, parsed));
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  return (
    <form class="evaluate" onSubmit={run} aria-label="Evaluate flag">
      <h3>Evaluate</h3>
      <label>
        Evaluation context (JSON)
        <textarea rows={3} value={context} onInput={(e) => setContext(e.currentTarget.value)} />
      </label>
      <button type="submit">Evaluate</button>
      {error !== undefined && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {result !== undefined && (
        <dl class="result" aria-label="Evaluation result">
          <dt>Value</dt>
          <dd data-field="value">{result.value === undefined ? "— (code default)" : JSON.stringify(result.value)}</dd>
          <dt>Variant</dt>
          <dd data-field="variant">{result.variant ?? "—"}</dd>
          <dt>Reason</dt>
          <dd data-field="reason">{result.reason ?? result.errorCode ?? "—"}</dd>
          {result.errorDetails !== undefined && (
            <>
              <dt>Details</dt>
              <dd>{result.errorDetails}</dd>
            </>
          )}
        </dl>
      )}
    </form>
  );
}

function History(props: {
  session: Session;
  flag: Flag;
  evaluators?: Record<string, unknown>;
  onSaved: (flag: Flag) => void;
  /** Why the flag takes no change now (a running rollout), if it does not. */
  heldBy?: string;
}) {
  const { session, flag, heldBy } = props;
  const readOnly = session.scope === "read";
  const [versions, setVersions] = useState<HistoryEntry[]>();
  const [error, setError] = useState<string>();
  const [from, setFrom] = useState<number>();
  const [to, setTo] = useState<number>();
  const [evaluatorChanges, setEvaluatorChanges] = useState<EvaluatorChange[]>([]);
  const uses = flag.targeting === undefined ? [] : referencedEvaluators(flag.targeting);
  useEffect(() => {
    session.api
      .history(flag.flagName)
      .then(({ versions }) => {
        setVersions(versions);
        setError(undefined);
        setTo(versions[0]?.version);
        setFrom(versions[1]?.version ?? versions[0]?.version);
      })
      .catch((caught: Error) => setError(caught.message));
    // The shared evaluators its targeting uses change what it serves without a version of its own.
    void Promise.all(uses.map((name) => changesOf(session, name))).then((all) => setEvaluatorChanges(all.flat()));
  }, [flag.flagName, flag.version, props.evaluators]);
  if (error !== undefined) return <p class="error">History unavailable: {error}</p>;
  if (versions === undefined) return <p class="hint">Loading history…</p>;
  const entry = (version: number | undefined) => versions.find((v) => v.version === version);
  const older = entry(from);
  const newer = entry(to);
  const canRevert = older?.flag !== undefined && older.flag !== null && older.version !== flag.version;
  const revert = async () => {
    if (older?.flag === undefined || older.flag === null) return;
    try {
      props.onSaved(await session.api.updateFlag(flag.flagName, definitionBody(older.flag), flag.version));
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  const options = versions.map((v) => (
    <option value={v.version}>
      v{v.version} — {v.actor ?? "unknown"}, {new Date(v.at).toLocaleString()}
    </option>
  ));
  return (
    <section class="history" aria-label="History">
      <h3>History</h3>
      <ComparePicker options={options} from={from} to={to} onFrom={setFrom} onTo={setTo} />
      <DiffTable
        lines={diffFlags(older?.flag ?? undefined, newer?.flag ?? undefined)}
        caption={`Changes from v${from} to v${to}`}
      />
      <div class="actions">
        <button
          type="button"
          disabled={readOnly || !canRevert || heldBy !== undefined}
          title={readOnly ? READ_ONLY_REASON : heldBy}
          onClick={() => void revert()}
        >
          Revert
        </button>
        <span class="hint">
          {heldBy !== undefined
            ? heldBy
            : canRevert
              ? `to version ${from}'s definition, as a new version`
              : "pick an older version to revert to"}
        </span>
      </div>
      <ol class="versions">
        {timeline(versions, evaluatorChanges).map((line) =>
          line.evaluator === undefined ? (
            <li>
              v{line.version}: {changeKind(line.version, line.deleted)} by {line.actor ?? "unknown"} at{" "}
              {new Date(line.at).toLocaleString()}
            </li>
          ) : (
            <li class="evaluator-change" data-evaluator={line.evaluator}>
              evaluator {line.evaluator} v{line.version}: {changeKind(line.version, line.deleted)} by{" "}
              {line.actor ?? "unknown"} at {new Date(line.at).toLocaleString()}
            </li>
          ),
        )}
      </ol>
    </section>
  );
}

/** One change of a shared evaluator a flag uses, as the flag's history lists it. */
interface EvaluatorChange {
  evaluator: string;
  version: number;
  at: string;
  actor: string | null;
  deleted: boolean;
}

/** An evaluator's changes (none when its history cannot be read: the flag's own history still shows). */
async function changesOf(session: Session, name: string): Promise<EvaluatorChange[]> {
  try {
    const { versions } = await session.api.evaluatorHistory(name);
    return versions.map((v) => ({
      evaluator: name,
      version: v.version,
      at: v.at,
      actor: v.actor,
      deleted: v.evaluator === null,
    }));
  } catch {
    return [];
  }
}

type TimelineLine = { version: number; at: string; actor: string | null; deleted: boolean; evaluator?: string };

/**
 * The flag's versions and the changes of the evaluators it uses, newest first; evaluator changes
 * older than the flag's oldest version shown are left out (they changed nothing it served).
 */
function timeline(versions: HistoryEntry[], changes: EvaluatorChange[]): TimelineLine[] {
  const oldest = versions.at(-1)?.at ?? "";
  const lines: TimelineLine[] = [
    ...versions.map((v) => ({ version: v.version, at: v.at, actor: v.actor, deleted: v.flag === null })),
    ...changes.filter((change) => change.at >= oldest),
  ];
  // A stable sort: entries at the same instant keep the flag's order first.
  return lines.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
