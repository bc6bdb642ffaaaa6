import { useEffect, useState } from "preact/hooks";
import type { Evaluator } from "./api";
import { checkEvaluatorExpression, referencedEvaluators } from "../../handlers/flags/definition";
import type { Flag } from "./logic/flags";
import { READ_ONLY_REASON, type Session } from "./session";

/** Shared evaluators (flagd's `$evaluators`): each with the flags that use it, editable. */
export function EvaluatorsView(props: { session: Session; flags: Record<string, Flag> }) {
  const { session } = props;
  const readOnly = session.scope === "read";
  const [evaluators, setEvaluators] = useState<Evaluator[]>([]);
  const [name, setName] = useState("");
  const [expression, setExpression] = useState("");
  const [errors, setErrors] = useState<string[]>([]);
  const [loaded, setLoaded] = useState(0);
  useEffect(() => {
    session.api
      .evaluators()
      .then(({ evaluators }) => setEvaluators(evaluators))
      .catch((error: Error) => setErrors([error.message]));
    // Flags changing may change which evaluators are used.
  }, [loaded, props.flags]);
  // The service counts references; which flags they are, the flags' targeting says.
  const users = (evaluator: string) =>
    Object.values(props.flags)
      .filter((flag) => flag.targeting !== undefined && referencedEvaluators(flag.targeting).includes(evaluator))
      .map((flag) => flag.flagName)
      .sort();
  const save = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(expression);
      checkEvaluatorExpression(parsed);
    } catch (error) {
      return setErrors([`Expression: ${(error as Error).message}`]);
    }
    try {
      await session.api.putEvaluator(name, parsed);
      setErrors([]);
      setLoaded(loaded + 1);
    } catch (error) {
      setErrors([(error as Error).message]);
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
            <tr key={evaluator.name}>
              <td>
                <button
                  type="button"
                  class="link"
                  onClick={() => {
                    setName(evaluator.name);
                    setExpression(JSON.stringify(evaluator.expression, null, 2));
                  }}
                >
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
        <button type="submit" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined}>
          Save
        </button>
      </form>
    </main>
  );
}
