import type { FieldChange, ItemChange, Plan, SectionPlan } from "./plan";

const json = (value: unknown): string => (value === undefined ? "(none)" : JSON.stringify(value));

function renderField(field: FieldChange): string {
  const label = field.path === "" ? "value" : field.path;
  if (field.kind === "added") return `${label}: ${json(field.after)}`;
  if (field.kind === "removed") return `${label}: ${json(field.before)} -> (removed)`;
  return `${label}: ${json(field.before)} -> ${json(field.after)}`;
}

function renderItems(marker: string, verb: string, noun: string, items: ItemChange[]): string[] {
  return items.flatMap((item) => [
    `${marker} ${noun} ${item.name} (${verb})`,
    ...item.fields.map((field) => `      ${renderField(field)}`),
  ]);
}

function renderSection(noun: string, section: SectionPlan): string[] {
  const lines = [
    ...renderItems("+", "create", noun, section.created),
    ...renderItems("~", "update", noun, section.updated),
    ...renderItems("-", "delete", noun, section.deleted),
  ];
  if (section.kept.length > 0) {
    lines.push(`  ${noun}s only in the target, kept (--prune deletes them): ${section.kept.join(", ")}`);
  }
  return lines;
}

function count(section: SectionPlan): string {
  return (
    `${section.created.length} to create, ${section.updated.length} to update, ` +
    `${section.deleted.length} to delete, ${section.unchanged} unchanged` +
    (section.kept.length > 0 ? `, ${section.kept.length} kept` : "")
  );
}

/**
 * A promotion plan as a reader scans it: one line per flag or evaluator (`+` create, `~` update,
 * `-` delete) with its changed values indented under it, then a one-line count.
 */
export function renderPlan(plan: Plan, from: string, to: string): string {
  const lines = [`Promoting ${from} to ${to}${plan.prune ? " (with --prune)" : ""}:`];
  const body = [...renderSection("flag", plan.flags), ...renderSection("evaluator", plan.evaluators)];
  lines.push(...(body.length > 0 ? body : ["  (no flags or evaluators)"]));
  lines.push(`Flags: ${count(plan.flags)}.`, `Evaluators: ${count(plan.evaluators)}.`);
  return `${lines.join("\n")}\n`;
}
