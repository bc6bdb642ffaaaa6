import { useEffect, useState } from "preact/hooks";
import type { Schedule } from "./api";
import { definitionBody } from "./logic/diff";
import type { Flag } from "./logic/flags";
import { READ_ONLY_REASON, type Session } from "./session";

/** What a schedule's change does, in a few words: the value or the default variant it sets. */
export function describeChange(change: unknown): string {
  const body = (change ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  if (body.defaultVariant !== undefined) parts.push(`variant ${String(body.defaultVariant)}`);
  else if (body.value !== undefined) parts.push(`value ${JSON.stringify(body.value)}`);
  if (body.state === "DISABLED") parts.push("disabled");
  return parts.length > 0 ? parts.join(", ") : "definition change";
}

/** A `datetime-local` input's value an hour from now, in the browser's time zone. */
function inAnHour(): string {
  const at = new Date(Date.now() + 3_600_000);
  at.setSeconds(0, 0);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/**
 * A flag's scheduled changes: the pending ones (when, what, by whom) with Cancel, the done ones,
 * and a form to schedule a value (plain flags) or a default variant (flags with variants).
 */
export function Schedules(props: { session: Session; flag: Flag }) {
  const { session, flag } = props;
  const readOnly = session.scope === "read";
  const variants = Object.keys(flag.variants ?? {});
  const [schedules, setSchedules] = useState<Schedule[]>();
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [when, setWhen] = useState(inAnHour);
  const [value, setValue] = useState(() => JSON.stringify(flag.value ?? null));
  const [variant, setVariant] = useState(() => variants.find((v) => v !== flag.defaultVariant) ?? variants[0] ?? "");
  const load = () =>
    session.api
      .schedules(flag.flagName)
      .then(({ schedules }) => setSchedules(schedules))
      .catch((caught: Error) => setError(caught.message));
  // A schedule applied is a new version: the list follows the flag's versions.
  useEffect(() => void load(), [flag.flagName, flag.version]);

  const create = async (event: Event) => {
    event.preventDefault();
    setStatus(undefined);
    const at = new Date(when);
    if (Number.isNaN(at.getTime())) return setError("Scheduled time: pick a date and a time");
    let change: Record<string, unknown>;
    if (variants.length > 0) {
      change = { ...definitionBody(flag), defaultVariant: variant };
    } else {
      try {
        change = { value: JSON.parse(value) };
      } catch (caught) {
        return setError(`New value: not valid JSON (${(caught as Error).message})`);
      }
    }
    try {
      const created = await session.api.createSchedule(flag.flagName, { at: at.toISOString(), change });
      setError(undefined);
      setStatus(`Scheduled for ${new Date(created.at).toLocaleString()}.`);
      await load();
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  const cancel = async (schedule: Schedule) => {
    try {
      await session.api.cancelSchedule(flag.flagName, schedule.id);
      setError(undefined);
      setStatus("Schedule cancelled.");
    } catch (caught) {
      setError((caught as Error).message);
    }
    await load();
  };

  const pending = (schedules ?? []).filter((s) => s.status === "pending");
  const done = (schedules ?? []).filter((s) => s.status !== "pending").slice(0, 5);
  return (
    <section class="schedules" aria-label="Scheduled changes">
      <h3>Scheduled changes</h3>
      {schedules === undefined && error === undefined && <p class="hint">Loading schedules…</p>}
      {schedules !== undefined && pending.length === 0 && <p class="hint">No pending schedules.</p>}
      {pending.length > 0 && (
        <table aria-label="Pending schedules">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Change</th>
              <th scope="col">By</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {pending.map((schedule) => (
              <tr data-schedule={schedule.id}>
                <td>
                  <time dateTime={schedule.at}>{new Date(schedule.at).toLocaleString()}</time>
                </td>
                <td>{describeChange(schedule.change)}</td>
                <td>{schedule.createdBy ?? "unknown"}</td>
                <td>
                  <button
                    type="button"
                    disabled={readOnly}
                    title={readOnly ? READ_ONLY_REASON : undefined}
                    aria-label={`Cancel schedule at ${new Date(schedule.at).toLocaleString()}`}
                    onClick={() => void cancel(schedule)}
                  >
                    Cancel
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {done.length > 0 && (
        <ul class="schedules-done" aria-label="Past schedules">
          {done.map((schedule) => (
            <li data-schedule={schedule.id}>
              {new Date(schedule.at).toLocaleString()}: {describeChange(schedule.change)} — {schedule.status}
              {schedule.version !== undefined && ` (v${schedule.version})`}
              {schedule.error !== undefined && `: ${schedule.error.message}`}
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={create} aria-label="Schedule a change">
        <fieldset disabled={readOnly}>
          <label>
            Scheduled time
            <input type="datetime-local" value={when} onInput={(e) => setWhen(e.currentTarget.value)} required />
          </label>
          {variants.length > 0 ? (
            <label>
              New default variant
              <select value={variant} onChange={(e) => setVariant(e.currentTarget.value)}>
                {variants.map((name) => (
                  <option value={name}>{name}</option>
                ))}
              </select>
            </label>
          ) : (
            <label>
              New value (JSON)
              <input value={value} onInput={(e) => setValue(e.currentTarget.value)} />
            </label>
          )}
        </fieldset>
        <button type="submit" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined}>
          Schedule change
        </button>
      </form>
      {error !== undefined && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {status !== undefined && (
        <p role="status" class="ok">
          {status}
        </p>
      )}
    </section>
  );
}
