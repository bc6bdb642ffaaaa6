import { useEffect, useState } from "preact/hooks";
import { ApiError, type Evaluator, type EvaluatorHistoryEntry } from "./api";
import { checkEvaluatorExpression, referencedEvaluators } from "../../handlers/flags/definition";
import { ComparePicker, DiffTable } from "./diffTable";
import { type DiffLine, diffVersions } from "./logic/diff";
import type { Flag } from "./logic/flags";
import { READ_ONLY_REASON, type Session } from "./session";

interface Conflict {
  /** The evaluator as someone else left it; undefined when they deleted it. */
  current?: Evaluator;
  lines: DiffLine[];
}

/** Shared evaluators (flagd's `$evaluators`): each with the flags that use it, editable, with its history. */
export function EvaluatorsView(props: {
  session: Session;
  flags: Record<string, Flag>;
  /** The evaluators as last pushed over the WebSocket: a change made anywhere reloads the view. */
  live?: Record<string, unknown>;
}) {
  const { session } = props;
  const readOnly = session.scope === "read";
  const [evaluators, setEvaluators] = useState<Evaluator[]>([]);
  const [name, setName] = useState("");
  const [expression, setExpression] = useState("");
  /** The version being edited, which Save sends as If-Match; undefined for a new evaluator. */
  const [base, setBase] = useState<Evaluator>();
  const [conflict, setConflict] = useState<Conflict>();
  const [saved, setSaved] = useState<string>();
  const [errors, setErrors] = useState<string[]>([]);
  const [loaded, setLoaded] = useState(0);
  useEffect(() => {
    session.api
      .evaluators()
      .then(({ evaluators }) => setEvaluators(evaluators))
      .catch((error: Error) => setErrors([error.message]));
    // Flags changing may change which evaluators are used; a pushed change, what they are.
  }, [loaded, props.flags, props.live]);
  // The service counts references; which flags they are, the flags' targeting says.
  const users = (evaluator: string) =>
    Object.values(props.flags)
      .filter((flag) => flag.targeting !== undefined && referencedEvaluators(flag.targeting).includes(evaluator))
      .map((flag) => flag.flagName)
      .sort();
  const select = (evaluator: Evaluator) => {
    setName(evaluator.name);
    setExpression(JSON.stringify(evaluator.expression, null, 2));
    setBase(evaluator);
    setConflict(undefined);
    setSaved(undefined);
    setErrors([]);
  };
  const save = async (event: Event) => {
    event.preventDefault();
    setSaved(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(expression);
      checkEvaluatorExpression(parsed);
    } catch (error) {
      return setErrors([`Expression: ${(error as Error).message}`]);
    }
    // Over the version the user saw: the one opened, or the listed one of the name typed.
    const seen = base?.name === name ? base : evaluators.find((e) => e.name === name);
    try {
      const stored = await session.api.putEvaluator(name, parsed, seen?.version);
      setBase(stored);
      setConflict(undefined);
      setErrors([]);
      setSaved(`Saved as version ${stored.version}.`);
      setLoaded(loaded + 1);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "VERSION_CONFLICT"))
        return setErrors([(error as Error).message]);
      const current = await session.api.getEvaluator(name).catch(() => undefined);
      // What the user typed stays; the next Save knowingly replaces the newer version (or creates it again).
      setConflict({ current, lines: diffVersions(seen, current) });
      setBase(current);
      setErrors([]);
      setLoaded(loaded + 1);
    }
  };
  return (
    <main class="evaluators">
      <table>
        <thead>
          <tr>
            <th scope="col">Evaluator</th>
            <th scope="col">Used by flags</th>
            <th scope="col">Changed</th>
          </tr>
        </thead>
        <tbody>
          {evaluators.map((evaluator) => (
            <tr key={evaluator.name} class={base?.name === evaluator.name ? "selected" : ""}>
              <td>
                <button type="button" class="link" onClick={() => select(evaluator)}>
                  {evaluator.name}
                </button>
              </td>
              <td>
                {users(evaluator.name).join(", ") || "none"}
                {evaluator.usedByFlags !== undefined && ` (${evaluator.usedByFlags})`}
              </td>
              <td>
                v{evaluator.version} by {evaluator.updatedBy ?? "unknown"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {evaluators.length === 0 && <p class="hint">No shared evaluators yet.</p>}
      <form class="editor" onSubmit={save} aria-label="Edit evaluator">
        <h3>{evaluators.some((e) => e.name === name) ? `Edit ${name}` : "New evaluator"}</h3>
        <fieldset disabled={readOnly}>
          <label>
            Evaluator name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
          <label>
            Expression (JsonLogic)
            <textarea rows={6} value={expression} onInput={(e) => setExpression(e.currentTarget.value)} />
          </label>
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
              {conflict.current === undefined
                ? "Someone deleted this evaluator meanwhile. Your expression is kept below; Save again to create it anew."
                : `${conflict.current.updatedBy ?? "Someone"} changed this evaluator at ${new Date(conflict.current.updatedAt).toLocaleString()} (now version ${conflict.current.version}). Your expression is kept below; Save again to replace their version with yours.`}
            </p>
            <DiffTable lines={conflict.lines} caption="Their change" />
          </div>
        )}
        <div class="actions">
          <button type="submit" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined}>
            Save
          </button>
          {saved !== undefined && (
            <span role="status" class="ok">
              {saved}
            </span>
          )}
        </div>
      </form>
      {base !== undefined && <EvaluatorHistory session={session} evaluator={base} live={props.live} />}
    </main>
  );
}

/** What a history entry records: a deletion (no version left), a creation (version 1) or a change. */
export const changeKind = (version: number, deleted: boolean) =>
  deleted ? "deleted" : version === 1 ? "created" : "changed";

/** An evaluator's versions, newest first (a deletion included), any two of them compared. */
function EvaluatorHistory(props: { session: Session; evaluator: Evaluator; live?: Record<string, unknown> }) {
  const { session, evaluator } = props;
  const [versions, setVersions] = useState<EvaluatorHistoryEntry[]>();
  const [error, setError] = useState<string>();
  // Indexes into `versions`: a name deleted and created again repeats version numbers.
  const [from, setFrom] = useState(1);
  const [to, setTo] = useState(0);
  useEffect(() => {
    session.api
      .evaluatorHistory(evaluator.name)
      .then(({ versions }) => {
        setVersions(versions);
        setError(undefined);
        setTo(0);
        setFrom(Math.min(1, versions.length - 1));
      })
      .catch((caught: Error) => setError(caught.message));
  }, [evaluator.name, evaluator.version, props.live]);
  if (error !== undefined) return <p class="error">History unavailable: {error}</p>;
  if (versions === undefined) return <p class="hint">Loading history…</p>;
  const label = (v: EvaluatorHistoryEntry) =>
    `v${v.version}${v.evaluator === null ? " (deleted)" : ""} — ${v.actor ?? "unknown"}, ${new Date(v.at).toLocaleString()}`;
  const options = versions.map((v, i) => <option value={i}>{label(v)}</option>);
  return (
    <section class="history" aria-label={`History of ${evaluator.name}`}>
      <h3>History of {evaluator.name}</h3>
      <ComparePicker options={options} from={from} to={to} onFrom={setFrom} onTo={setTo} />
      <DiffTable
        lines={diffVersions(versions[from]?.evaluator ?? undefined, versions[to]?.evaluator ?? undefined)}
        caption={`Changes from v${versions[from]?.version} to v${versions[to]?.version}`}
      />
      <ol class="versions">
        {versions.map((v) => (
          <li data-version={v.version}>
            v{v.version}: {changeKind(v.version, v.evaluator === null)} by {v.actor ?? "unknown"} at{" "}
            {new Date(v.at).toLocaleString()}
          </li>
        ))}
      </ol>
    </section>
  );
}
