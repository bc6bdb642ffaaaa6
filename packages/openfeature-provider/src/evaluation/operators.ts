import { Form } from "./cost";
import { type Extent, FLAG_KEY_LENGTH, listBytes, type Outcome, scalar, widest } from "./extent";
import { NS } from "./weights";

/**
 * What one operator (not `var`, not an iteration: the Measurer walks those) costs, given what its
 * operands cost and can be; undefined for an operator this model does not know.
 */
export function chargeOperator(operator: string, args: unknown, operands: readonly Outcome[]): Outcome | undefined {
  const extents = operands.map((o) => o.extent);
  const all = Form.sum(operands.map((o) => o.cost)).plus(NS.node);
  const size = Form.sum(extents.map((e) => e.size));
  const count = Form.sum(extents.map((e) => e.count));
  const charge = (cost: Form, extent: Extent = scalar()): Outcome => ({ cost: all.plus(cost), extent });
  switch (operator) {
    case "if": {
      // Every condition may be evaluated, then one branch: the dearest.
      const conditions: Form[] = [];
      const branches: Outcome[] = [];
      operands.forEach((o, i) => {
        if (i % 2 === 1 || i === operands.length - 1) branches.push(o);
        else conditions.push(o.cost);
      });
      return {
        cost: Form.sum([...conditions, Form.max(branches.map((b) => b.cost))]).plus(NS.node),
        extent: branches.length === 0 ? scalar() : widest(branches.map((b) => b.extent)),
      };
    }
    case "or":
    case "and":
      // Any operand may be the result; all may be evaluated.
      return { cost: all, extent: widest(extents) };
    case "!":
    case "!!":
      return charge(Form.zero());
    case "==":
    case "===":
    case "!=":
    case "!==":
    case "<":
    case "<=":
    case ">":
    case ">=":
      return charge(size.scale(NS.compare));
    case "+":
    case "-":
    case "*":
    case "/":
    case "%":
      return charge(size.scale(NS.arithmetic));
    case "max":
    case "min":
      return charge(count.scale(NS.minMax));
    case "in": {
      // An array is scanned element by element; a string is searched for a substring, which
      // costs up to (haystack × needle) for long needles, after the needle is turned into text.
      const [needle = scalar(), haystack = scalar()] = extents;
      const scan = size.scale(NS.compare).plus(haystack.count.scale(NS.inElement));
      if (haystack.text !== true) return charge(scan);
      const needleLength = Math.min(needle.size.worst(), NS.inNeedleCap);
      const search = haystack.size.scale(NS.inSearch * needleLength).plus(listBytes([needle]).scale(NS.coerceByte));
      return charge(Form.max([scan, search]));
    }
    case "cat":
      // Strings are joined as ropes; an array operand is first turned into text (recursively).
      return charge(size.scale(NS.catChar).plus(listBytes(extents).scale(NS.coerceByte)), {
        size,
        count: size,
        text: true,
      });
    case "substr":
      return charge((extents[0]?.size ?? Form.zero()).scale(NS.substr), {
        ...(extents[0] ?? scalar()),
        list: false,
        text: true,
      });
    case "merge":
      return charge(count.scale(NS.merge), { size, count, list: true });
    case "missing":
    case "missing_some":
      return charge(count.scale(NS.missing), { size, count, list: true });
    case "starts_with":
    case "ends_with":
      return charge(size.scale(NS.affix));
    case "sem_ver":
      // Both versions go through String() (an array is turned into text) and a linear regex.
      return charge(size.scale(NS.semVerChar).plus(listBytes(extents).scale(NS.coerceByte)).plus(NS.semVer));
    case "fractional": {
      // Hashes its first operand when that is a string, else the targeting key (a string: OFREP
      // refuses any other) after the flag key.
      const keyed = Array.isArray(args) && args.length > 0 && !Array.isArray(args[0]);
      const key = Form.max([keyed ? extents[0].size : Form.zero(), Form.key("targetingKey").plus(FLAG_KEY_LENGTH)]);
      return charge(key.scale(NS.fractionalChar).plus(NS.fractional));
    }
    default:
      return undefined;
  }
}
