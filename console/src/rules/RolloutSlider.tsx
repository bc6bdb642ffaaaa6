import { rolloutSentence, type TargetingModel, type TwoWaySplit } from "./model";

/**
 * The percentage of a two-way `fractional` split as a slider: a native range input, so arrow
 * keys move it by 1, PageUp/PageDown by 10, Home/End to the ends, and assistive technology reads
 * it as `role=slider` with `aria-valuenow` the first variant's percentage.
 */
export function RolloutSlider(props: {
  split: TwoWaySplit;
  /** The stored targeting, to say whether Save keeps users in. */
  stored: TargetingModel;
  onPercent: (percent: number) => void;
}) {
  const { split } = props;
  return (
    <div class="rollout-slider">
      <label>
        Rollout percentage
        <input
          type="range"
          min={0}
          max={100}
          step={1}
          value={split.percent}
          aria-valuenow={split.percent}
          aria-describedby="rollout-slider-effect"
          onInput={(event) => props.onPercent(Number(event.currentTarget.value))}
        />
      </label>
      <p id="rollout-slider-effect" class="effect" aria-live="polite">
        On Save: {rolloutSentence(split, props.stored)}
      </p>
    </div>
  );
}
