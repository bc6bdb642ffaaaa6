import { memo } from "preact/compat";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, makeApi } from "./api";
import { EvaluatorsView } from "./evaluators";
import { FlagName } from "./flagName";
import { FlagPanel } from "./flagPanel";
import { checkCreate } from "./logic/editor";
import { definitionBody } from "./logic/diff";
import {
  DEFAULT_STALE_DAYS,
  FLAG_FILTERS,
  FLAG_SORTS,
  type Flag,
  type FlagFilter,
  type FlagSort,
  isBooleanFlag,
  isDisabled,
  isStale,
  lastUsed,
  matchesQuery,
  sortFlags,
  valueSummary,
} from "./logic/flags";
import {
  forgetToken,
  READ_ONLY_REASON,
  type Session,
  storedToken,
  storeToken,
  useLiveFlags,
  useRecentChanges,
} from "./session";

const STALE_DAYS_KEY = "feature-flags-stale-days";

const shortTime = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });

/** Why a client key cannot sign in: every route but OFREP refuses it. */
const CLIENT_KEY_REASON =
  "That is a client key (scope evaluate): it can only evaluate client-side flags over OFREP. Sign in with a token that has the read or write scope.";

async function openSession(token: string): Promise<Session> {
  const api = makeApi(token);
  const scope = await api.scope();
  const settings = await api.settings().catch((error: unknown) => {
    // A read token may read the settings; one refused them can read nothing: a client key.
    if (error instanceof ApiError && error.status === 403) throw new Error(CLIENT_KEY_REASON);
    return undefined;
  });
  return { token, api, scope, allowFlagDeletion: settings?.allowFlagDeletion };
}

export function App() {
  const [session, setSession] = useState<Session>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const signIn = async (token: string) => {
    setBusy(true);
    setError(undefined);
    try {
      const opened = await openSession(token);
      storeToken(token);
      setSession(opened);
    } catch (caught) {
      forgetToken();
      setError(
        caught instanceof ApiError && caught.status === 401
          ? "The service does not accept that token."
          : (caught as Error).message === CLIENT_KEY_REASON
            ? CLIENT_KEY_REASON
            : `Could not sign in: ${(caught as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    const token = storedToken();
    if (token !== "") void signIn(token);
  }, []);
  if (session === undefined) return <SignIn onSignIn={signIn} error={error} busy={busy} />;
  return (
    <Console
      session={session}
      onSignOut={() => {
        forgetToken();
        setSession(undefined);
      }}
    />
  );
}

function SignIn(props: { onSignIn: (token: string) => void; error?: string; busy: boolean }) {
  const [token, setToken] = useState("");
  return (
    <main class="signin">
      <h1>Feature flags</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim() !== "") props.onSignIn(token.trim());
        }}
      >
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
          required
        />
        <p class="hint">Kept in this tab's session storage only, and sent only to this service.</p>
        <button type="submit" disabled={props.busy}>
          Sign in
        </button>
        {props.error !== undefined && (
          <p role="alert" class="error">
            {props.error}
          </p>
        )}
      </form>
    </main>
  );
}

function Console(props: { session: Session; onSignOut: () => void }) {
  const { session } = props;
  const [tab, setTab] = useState<"flags" | "evaluators">("flags");
  const { live, connection, loadError, known, gone } = useLiveFlags(session.token);
  const readOnly = session.scope === "read";
  return (
    <div class="console">
      <header>
        <h1>Feature flags</h1>
        <nav aria-label="Sections">
          <button type="button" aria-pressed={tab === "flags"} onClick={() => setTab("flags")}>
            Flags
          </button>
          <button type="button" aria-pressed={tab === "evaluators"} onClick={() => setTab("evaluators")}>
            Evaluators
          </button>
        </nav>
        <span class={`connection ${connection}`} data-connection={connection}>
          {connection === "live" ? "● Live" : connection === "connecting" ? "Connecting…" : "Offline, reconnecting…"}
        </span>
        <span class="scope">{readOnly ? "Read-only token" : "Read and write"}</span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      {readOnly && (
        <p class="notice" id="read-only-reason">
          {READ_ONLY_REASON}
        </p>
      )}
      {loadError !== undefined && (
        <p role="alert" class="error">
          Could not load flags: {loadError}
        </p>
      )}
      {tab === "flags" ? (
        <FlagsView session={session} flags={live.flags} known={known} gone={gone} live={live} />
      ) : (
        <EvaluatorsView session={session} flags={live.flags} live={live.evaluators} />
      )}
    </div>
  );
}

/** Rows rendered at first, and added each time the end of the list comes into view. */
const ROWS_PER_STEP = 100;

function FlagsView(props: {
  session: Session;
  flags: Record<string, Flag>;
  live: Parameters<typeof useRecentChanges>[0];
  known: (flags: Flag[]) => void;
  gone: (flagName: string) => void;
}) {
  const { session, flags, known } = props;
  const readOnly = session.scope === "read";
  const [search, setSearch] = useState("");
  const [filter, setFilter] = useState<FlagFilter>("all");
  const [clientSideOnly, setClientSideOnly] = useState(false);
  const [sort, setSort] = useState<FlagSort>("name");
  const [staleDays, setStaleDays] = useState(() => Number(localStorage.getItem(STALE_DAYS_KEY)) || DEFAULT_STALE_DAYS);
  const [selected, setSelected] = useState<string>();
  const [message, setMessage] = useState<string>();
  // Incremental rendering: 10,000 rows at once took seconds to render and re-render on each
  // search; the list renders its first rows and adds more as the user scrolls towards its end.
  const [rowLimit, setRowLimit] = useState(ROWS_PER_STEP);
  const end = useRef<HTMLDivElement>(null);
  const listScroll = useRef(0);
  const recent = useRecentChanges(props.live);
  // Sorted once per change of the set (from the last order, so a live change is cheap), then
  // filtered per search: typing never sorts 10,000 flags.
  const order = useRef<Flag[]>([]);
  const sorted = useMemo(() => (order.current = sortFlags(flags, sort, order.current)), [flags, sort]);
  const shown = useMemo(() => {
    const query = { search, filter, sort, staleDays, now: Date.now(), clientSideOnly };
    return sorted.filter((flag) => matchesQuery(flag, query));
  }, [sorted, search, filter, staleDays, clientSideOnly]);
  // A new search, filter or sort starts again from the top.
  useEffect(() => setRowLimit(ROWS_PER_STEP), [search, filter, sort, staleDays, clientSideOnly]);
  const more = shown.length > rowLimit;
  useEffect(() => {
    const sentinel = end.current;
    if (!more || sentinel === null || typeof IntersectionObserver === "undefined") return;
    // Observed afresh after each step: one that leaves the end still in view adds another.
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) setRowLimit((limit) => limit + ROWS_PER_STEP);
      },
      { rootMargin: "800px 0px" },
    );
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, [more, rowLimit, selected]);
  const change = props.live.lastChange;
  // Stable callbacks, so a live change to one flag re-renders its row only (rows are memoized).
  const toggle = useCallback(
    async (flag: Flag) => {
      try {
        known([
          await session.api.updateFlag(flag.flagName, { ...definitionBody(flag), value: !flag.value }, flag.version),
        ]);
      } catch (error) {
        setMessage(`Could not toggle ${flag.flagName}: ${(error as Error).message}`);
      }
    },
    [session, known],
  );
  const open = useCallback((flagName: string) => {
    // On a narrow screen the editor replaces the list: Back returns to where the user was.
    listScroll.current = window.scrollY;
    setSelected(flagName);
    if (window.matchMedia(NARROW).matches) window.scrollTo(0, 0);
  }, []);
  const back = () => {
    const flagName = selected;
    setSelected(undefined);
    requestAnimationFrame(() => {
      window.scrollTo(0, listScroll.current);
      const button = document.querySelector<HTMLElement>(`tr[data-flag="${CSS.escape(flagName ?? "")}"] button.link`);
      button?.focus({ preventScroll: true });
    });
  };
  const selectedFlag = selected === undefined ? undefined : flags[selected];
  const total = Object.keys(flags).length;
  return (
    <main class={selectedFlag === undefined ? "flags" : "flags editing"}>
      <section class="list" aria-label="Flag list">
        <div class="toolbar">
          <label>
            Search flags
            <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={clientSideOnly}
              onChange={(e) => setClientSideOnly(e.currentTarget.checked)}
            />
            Client-side only
          </label>
          <label>
            Filter
            <select value={filter} onChange={(e) => setFilter(e.currentTarget.value as FlagFilter)}>
              {FLAG_FILTERS.map((f) => (
                <option value={f}>{f}</option>
              ))}
            </select>
          </label>
          <label>
            Sort by
            <select value={sort} onChange={(e) => setSort(e.currentTarget.value as FlagSort)}>
              {FLAG_SORTS.map((s) => (
                <option value={s}>{{ name: "name", updated: "last changed", unused: "longest unused" }[s]}</option>
              ))}
            </select>
          </label>
          <label>
            Stale after (days)
            <input
              type="number"
              min={1}
              value={staleDays}
              onInput={(e) => {
                const days = Number(e.currentTarget.value);
                if (days > 0) {
                  setStaleDays(days);
                  localStorage.setItem(STALE_DAYS_KEY, String(days));
                }
              }}
            />
          </label>
        </div>
        <CreateFlag session={session} onCreated={(flag) => (known([flag]), open(flag.flagName))} />
        <p role="status" class="live-status" aria-live="polite">
          {change === undefined
            ? ""
            : `${change.flagName} ${change.kind}${change.kind === "deleted" ? "" : ` (version ${change.version}${change.actor === null ? "" : ` by ${change.actor}`})`}`}
        </p>
        {message !== undefined && (
          <p role="alert" class="error">
            {message}
          </p>
        )}
        <p class="hint count">
          {shown.length === total
            ? `${total.toLocaleString()} ${total === 1 ? "flag" : "flags"}`
            : `${shown.length.toLocaleString()} of ${total.toLocaleString()} flags match`}
        </p>
        <table class="flag-table" role="table" aria-label="Flags">
          <thead role="rowgroup">
            <tr role="row">
              <th scope="col" role="columnheader">
                Name
              </th>
              <th scope="col" role="columnheader">
                Value
              </th>
              <th scope="col" role="columnheader">
                Status
              </th>
              <th scope="col" role="columnheader">
                Last used
              </th>
              <th scope="col" role="columnheader">
                On
              </th>
            </tr>
          </thead>
          <tbody role="rowgroup">
            {shown.slice(0, rowLimit).map((flag) => (
              <FlagRow
                key={flag.flagName}
                flag={flag}
                flash={recent.has(flag.flagName)}
                selected={selected === flag.flagName}
                staleDays={staleDays}
                readOnly={readOnly}
                onOpen={open}
                onToggle={toggle}
              />
            ))}
          </tbody>
        </table>
        {shown.length === 0 && <p class="hint">No flags match.</p>}
        {more && (
          <div ref={end} class="more">
            <button type="button" onClick={() => setRowLimit((limit) => limit + ROWS_PER_STEP)}>
              Show more ({(shown.length - rowLimit).toLocaleString()} not shown)
            </button>
          </div>
        )}
      </section>
      {selectedFlag !== undefined && (
        <div class="editor-view">
          <button type="button" class="back" onClick={back}>
            ← Back to flags
          </button>
          <FlagPanel
            key={selectedFlag.flagName}
            session={session}
            flag={selectedFlag}
            evaluators={props.live.evaluators}
            onSaved={(flag) => known([flag])}
            onDeleted={(flagName) => {
              props.gone(flagName);
              setSelected(undefined);
            }}
            onClose={back}
          />
        </div>
      )}
    </main>
  );
}

/** Below this width (styles.css agrees) a flag's editor is a view of its own instead of a column. */
const NARROW = "(max-width: 959px)";

interface RowProps {
  flag: Flag;
  flash: boolean;
  selected: boolean;
  staleDays: number;
  readOnly: boolean;
  onOpen: (flagName: string) => void;
  onToggle: (flag: Flag) => Promise<void>;
}

/** One flag of the list; re-rendered only when its own props change (a live update of another flag does not). */
const FlagRow = memo(function FlagRow(props: RowProps) {
  const { flag, staleDays, readOnly } = props;
  const stale = isStale(flag, Date.now(), staleDays);
  const used = lastUsed(flag);
  return (
    <tr
      role="row"
      class={`${props.flash ? "flash" : ""} ${props.selected ? "selected" : ""}`}
      data-flag={flag.flagName}
      data-version={flag.version}
    >
      <td role="cell" class="name">
        <button type="button" class="link" onClick={() => props.onOpen(flag.flagName)}>
          <FlagName name={flag.flagName} />
        </button>
      </td>
      <td role="cell" class="value">
        {valueSummary(flag)}
      </td>
      <td role="cell" class="status">
        {isDisabled(flag) && <span class="badge disabled">disabled</span>}
        {flag.clientSide && (
          <span class="badge client-side" title="client keys can evaluate it over OFREP">
            client-side
          </span>
        )}
        {stale && (
          <span class="badge stale" title={`not read or evaluated for more than ${staleDays} days`}>
            stale
          </span>
        )}
      </td>
      <td role="cell" class="used">
        <span class="label">Last used </span>
        {used === undefined ? "never" : shortTime(used)}
      </td>
      <td role="cell" class="on">
        {isBooleanFlag(flag) && (
          <button
            type="button"
            role="switch"
            class="switch"
            aria-checked={flag.value === true}
            aria-label={flag.flagName}
            disabled={readOnly}
            title={readOnly ? READ_ONLY_REASON : undefined}
            aria-describedby={readOnly ? "read-only-reason" : undefined}
            onClick={() => void props.onToggle(flag)}
          >
            <span aria-hidden="true">{flag.value === true ? "on" : "off"}</span>
          </button>
        )}
      </td>
    </tr>
  );
});

function CreateFlag(props: { session: Session; onCreated: (flag: Flag) => void }) {
  const readOnly = props.session.scope === "read";
  const [name, setName] = useState("");
  const [value, setValue] = useState("false");
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<string[]>([]);
  const submit = async (event: Event) => {
    event.preventDefault();
    const checked = checkCreate(name, value, description);
    if (!checked.ok) return setErrors(checked.errors);
    try {
      props.onCreated(await props.session.api.createFlag(checked.body));
      setName("");
      setDescription("");
      setErrors([]);
    } catch (error) {
      setErrors([(error as Error).message]);
    }
  };
  return (
    <form class="create" onSubmit={submit} aria-label="New flag">
      <label>
        New flag name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} disabled={readOnly} />
      </label>
      <label>
        Value (JSON)
        <input value={value} onInput={(e) => setValue(e.currentTarget.value)} disabled={readOnly} />
      </label>
      <label>
        Description
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} disabled={readOnly} />
      </label>
      <button
        type="submit"
        disabled={readOnly}
        title={readOnly ? READ_ONLY_REASON : undefined}
        aria-describedby={readOnly ? "read-only-reason" : undefined}
      >
        Create flag
      </button>
      {errors.length > 0 && (
        <ul role="alert" class="error">
          {errors.map((e) => (
            <li>{e}</li>
          ))}
        </ul>
      )}
    </form>
  );
}
