import type { ComponentChildren } from "preact";
import type { DiffLine } from "./logic/diff";

/** Two versions side by side, a row per field that differs (a flag's or an evaluator's). */
export function DiffTable(props: { lines: DiffLine[]; caption: string }) {
  if (props.lines.length === 0) return <p class="hint">No differences.</p>;
  return (
    <table class="diff">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {props.lines.map((line) => (
          <tr class={line.kind}>
            <td>{line.path}</td>
            <td class="before">
              <code>{line.before ?? "—"}</code>
            </td>
            <td class="after">
              <code>{line.after ?? "—"}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The two version pickers above a DiffTable; `options` are the same `<option>`s for both. */
export function ComparePicker(props: {
  options: ComponentChildren;
  from: number | undefined;
  to: number | undefined;
  onFrom: (value: number) => void;
  onTo: (value: number) => void;
}) {
  return (
    <div class="compare">
      <label>
        Compare version
        <select value={props.from} onChange={(e) => props.onFrom(Number(e.currentTarget.value))}>
          {props.options}
        </select>
      </label>
      <label>
        with version
        <select value={props.to} onChange={(e) => props.onTo(Number(e.currentTarget.value))}>
          {props.options}
        </select>
      </label>
    </div>
  );
}
