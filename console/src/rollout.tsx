import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type Rollout } from "./api";
import type { Flag } from "./logic/flags";
import {
  HOLD_UNITS,
  type HoldUnit,
  outcomeText,
  planText,
  relativeTime,
  type RolloutForm,
  rolloutRequest,
} from "./logic/rollout";
import { READ_ONLY_REASON, type Session } from "./session";

/** Shown beside the editor's Save (and Revert) while a rollout holds the flag. */
export const ROLLOUT_HOLD_REASON =
  "A rollout is running: the flag takes no other change until it completes or is aborted (Abort rollout, under Rollout).";

/** How often a running rollout is read again while the page is visible. */
const POLL_MS = 3_000;
/** How long after a step is due the rollout is read again (the local clock takes a step within 1 s). */
const STEP_SLACK_MS = 400;
/** How often a step that is due but not taken yet is looked for. */
const OVERDUE_POLL_MS = 1_000;

/** Whether the page is visible: a hidden tab polls nothing. */
function useVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState !== "hidden");
  useEffect(() => {
    const changed = () => setVisible(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", changed);
    return () => document.removeEventListener("visibilitychange", changed);
  }, []);
  return visible;
}

export interface RolloutState {
  /** The flag's latest rollout; null when it never had one; undefined while loading. */
  rollout: Rollout | null | undefined;
  error?: string;
  /** Shows a rollout the API just returned (a start's or an abort's). */
  show: (rollout: Rollout) => void;
  reload: () => Promise<void>;
}

/**
 * A flag's rollout, read when the flag changes and every few seconds while it runs and the page
 * is visible (and just after its next step is due). When the rollout wrote a version the panel has
 * not seen yet (a step, an abort), `refreshFlag` brings the flag up to date.
 */
export function useRollout(session: Session, flag: Flag, refreshFlag: () => void): RolloutState {
  const [rollout, setRollout] = useState<Rollout | null>();
  const [error, setError] = useState<string>();
  // Counts finished reads, failed ones too: each one sets the timer for the next while it runs.
  const [reads, setReads] = useState(0);
  const visible = useVisible();
  // Only the newest read (or answer of a start or abort) is shown: an older poll's answer that
  // arrives late must not bring back a rollout that was aborted meanwhile.
  const latest = useRef(0);
  const reload = async () => {
    const mine = ++latest.current;
    try {
      const found = await session.api.rollout(flag.flagName);
      if (mine !== latest.current) return;
      setRollout(found);
      setError(undefined);
    } catch (caught) {
      if (mine !== latest.current) return;
      if (caught instanceof ApiError && caught.status === 404) {
        setRollout(null);
        setError(undefined);
      } else {
        setError((caught as Error).message);
      }
    } finally {
      setReads((n) => n + 1);
    }
  };
  const show = (answer: Rollout) => {
    latest.current++;
    setRollout(answer);
    setError(undefined);
  };
  // Every step is a version of the flag: the live flag's versions bring the rollout's steps.
  useEffect(() => void reload(), [flag.flagName, flag.version]);
  const running = rollout?.status === "running";
  const nextStepAt = rollout?.nextStepAt;
  useEffect(() => {
    if (!running || !visible) return;
    // Read again every few seconds, or just after the next step is due (sooner while it is overdue).
    const due = nextStepAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(nextStepAt) - Date.now();
    const delay = due < 0 ? OVERDUE_POLL_MS : Math.min(POLL_MS, due + STEP_SLACK_MS);
    const timer = setTimeout(() => void reload(), delay);
    return () => clearTimeout(timer);
  }, [running, visible, nextStepAt, reads]);
  useEffect(() => {
    if (rollout?.version !== undefined && rollout.version > flag.version) refreshFlag();
  }, [rollout?.version]);
  return { rollout, error, show, reload };
}

/** The current time, ticking every second while `on` (a countdown to the next step). */
function useNow(on: boolean): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!on) return;
    setNow(Date.now());
    const tick = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(tick);
  }, [on]);
  return now;
}

const localTime = (iso: string) => <time dateTime={iso}>{new Date(iso).toLocaleString()}</time>;

/**
 * A flag's progressive rollout: the running one (variant, percentage, step, next step, guard
 * alarms) with Abort, how the last one ended, and a form to start one (flags with variants).
 */
export function RolloutSection(props: { session: Session; flag: Flag; state: RolloutState }) {
  const { session, flag, state } = props;
  const { rollout } = state;
  const readOnly = session.scope === "read";
  const variants = Object.keys(flag.variants ?? {});
  const running = rollout?.status === "running";
  const visible = useVisible();
  const now = useNow(running && visible);
  const [form, setForm] = useState<RolloutForm>(() => ({
    variant: variants.find((v) => v !== flag.defaultVariant) ?? variants[0] ?? "",
    percents: "1, 10, 50, 100",
    hold: "30",
    holdUnit: "minutes",
    alarms: "",
  }));
  const [errors, setErrors] = useState<string[]>([]);
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  const variant = variants.includes(form.variant) ? form.variant : (variants[0] ?? "");
  const field = (name: keyof RolloutForm) => (event: Event) =>
    setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value });

  const start = async (event: Event) => {
    event.preventDefault();
    setStatus(undefined);
    const checked = rolloutRequest({ ...form, variant });
    if (!checked.ok) return setErrors(checked.errors);
    setBusy(true);
    try {
      const started = await session.api.startRollout(flag.flagName, checked.body);
      state.show(started);
      setErrors([]);
      setStatus(
        `${started.status === "completed" ? "Rolled out" : "Rollout started"}: ${started.variant} at ${started.percent} % (version ${started.version}).`,
      );
    } catch (caught) {
      setErrors([(caught as Error).message]);
      // Someone else's rollout may be what refused this one: show it.
      if (caught instanceof ApiError && caught.code === "ROLLOUT_RUNNING") void state.reload();
    } finally {
      setBusy(false);
    }
  };
  const abort = async (current: Rollout) => {
    const question = `Abort the rollout of ${current.variant} on ${flag.flagName}? The flag goes back to its definition at version ${current.baseVersion}, as a new version.`;
    if (!confirm(question)) return;
    setStatus(undefined);
    setBusy(true);
    try {
      const aborted = await session.api.abortRollout(flag.flagName);
      state.show(aborted);
      setErrors([]);
      setStatus(
        `Rollout aborted: the flag is back to version ${aborted.baseVersion}'s definition, as version ${aborted.version}.`,
      );
    } catch (caught) {
      setErrors([(caught as Error).message]);
      void state.reload();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="rollout" aria-label="Rollout">
      <h3>Rollout</h3>
      {rollout === undefined && state.error === undefined && <p class="hint">Loading rollout…</p>}
      {state.error !== undefined && <p class="error">Rollout unavailable: {state.error}</p>}
      {rollout !== undefined && rollout !== null && running && (
        <Running rollout={rollout} now={now} readOnly={readOnly} busy={busy} onAbort={() => void abort(rollout)} />
      )}
      {rollout !== undefined && rollout !== null && !running && (
        <p class="rollout-outcome" data-status={rollout.status}>
          Last rollout of {rollout.variant}: {outcomeText(rollout)},{" "}
          {localTime(rollout.completedAt ?? rollout.abortedAt ?? rollout.startedAt)}
          {rollout.version !== undefined && ` (v${rollout.version})`}.
        </p>
      )}
      {rollout === null && <p class="hint">No rollout yet.</p>}
      {variants.length === 0 && !running && (
        <p class="hint">
          A rollout serves one of a flag's variants to a rising share of users, step by step: give this flag variants to
          roll one out.
        </p>
      )}
      {readOnly && <p class="hint">{READ_ONLY_REASON}</p>}
      {!readOnly && !running && variants.length > 0 && rollout !== undefined && (
        <form class="rollout-start" onSubmit={start} aria-label="Start a rollout">
          <label>
            Variant to roll out
            <select value={variant} onChange={field("variant")}>
              {variants.map((name) => (
                <option value={name}>{name}</option>
              ))}
            </select>
          </label>
          <label>
            Percentages, step by step
            <input
              value={form.percents}
              onInput={field("percents")}
              aria-describedby="rollout-percents-hint"
              required
            />
          </label>
          <p id="rollout-percents-hint" class="hint">
            Whole numbers from 1 to 100, rising, e.g. 1, 10, 50, 100. The last step stays.
          </p>
          <div class="rollout-hold">
            <label>
              Hold each step
              <input type="number" min={0} step="any" value={form.hold} onInput={field("hold")} />
            </label>
            <label>
              Hold unit
              <select value={form.holdUnit} onChange={field("holdUnit")}>
                {(Object.keys(HOLD_UNITS) as HoldUnit[]).map((unit) => (
                  <option value={unit}>{unit}</option>
                ))}
              </select>
            </label>
          </div>
          <label>
            Guard alarms (optional)
            <input
              value={form.alarms}
              onInput={field("alarms")}
              placeholder="checkout-5xx, checkout-latency"
              aria-describedby="rollout-alarms-hint"
            />
          </label>
          <p id="rollout-alarms-hint" class="hint">
            CloudWatch alarm names, separated by commas: on AWS, one entering ALARM aborts the rollout.
          </p>
          <button type="submit" disabled={busy}>
            Start rollout
          </button>
        </form>
      )}
      {errors.length > 0 && (
        <ul role="alert" class="error">
          {errors.map((e) => (
            <li>{e}</li>
          ))}
        </ul>
      )}
      {status !== undefined && (
        <p role="status" class="ok">
          {status}
        </p>
      )}
    </section>
  );
}

function Running(props: { rollout: Rollout; now: number; readOnly: boolean; busy: boolean; onAbort: () => void }) {
  const { rollout, now } = props;
  const next = rollout.steps[rollout.step + 1];
  const alarms = rollout.guard?.alarms ?? [];
  const due = rollout.nextStepAt === undefined ? undefined : Date.parse(rollout.nextStepAt);
  return (
    <div class="rollout-running">
      <div
        class="meter"
        role="progressbar"
        aria-label={`Rollout of ${rollout.variant}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={rollout.percent}
        aria-valuetext={`${rollout.percent} %`}
      >
        {/* A CSSOM property, not a style attribute: the console's CSP allows no inline styles. */}
        <span style={{ width: `${rollout.percent}%` }} />
      </div>
      <dl class="facts" aria-label="Running rollout">
        <dt>Variant</dt>
        <dd data-field="variant">{rollout.variant}</dd>
        <dt>Serving it to</dt>
        <dd data-field="percent">{rollout.percent} % of targeting keys</dd>
        <dt>Step</dt>
        <dd data-field="step">
          {rollout.step + 1} of {rollout.steps.length}: {planText(rollout.steps)}
        </dd>
        <dt>Next step</dt>
        <dd data-field="next">
          {next === undefined || due === undefined ? (
            "none: this step stays"
          ) : (
            <>
              {next.percent} % at {localTime(rollout.nextStepAt ?? "")} (
              {due <= now ? "due now" : relativeTime(due, now)})
            </>
          )}
        </dd>
        <dt>Guard alarms</dt>
        <dd data-field="guard">{alarms.length > 0 ? alarms.join(", ") : "no guard alarms"}</dd>
        <dt>Started</dt>
        <dd data-field="started">
          by {rollout.startedBy ?? "unknown"} at {localTime(rollout.startedAt)}, from version {rollout.baseVersion}
        </dd>
      </dl>
      {!props.readOnly && (
        <div class="actions">
          <button type="button" class="danger" disabled={props.busy} onClick={props.onAbort}>
            Abort rollout
          </button>
          <span class="hint">puts the flag back to version {rollout.baseVersion}'s definition</span>
        </div>
      )}
    </div>
  );
}
