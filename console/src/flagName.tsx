import { Fragment } from "preact";
import { nameParts } from "./logic/flags";

/**
 * A flag's name that a narrow screen wraps only after `-`, `_` or `.` (a `<wbr>` there, and
 * `.flag-name` keeps words whole): the accessible name and the text stay the plain name.
 */
export function FlagName(props: { name: string }) {
  return (
    <span class="flag-name">
      {nameParts(props.name).map((part, index) => (
        <Fragment key={index}>
          {index > 0 && <wbr />}
          {part}
        </Fragment>
      ))}
    </span>
  );
}
