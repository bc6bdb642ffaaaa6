/**
 * Runs autocannon in a process of its own, so the load generator does not take the event loop
 * and CPU of the service it measures: `ts-node bench/cannonProcess.ts '<json>'` prints
 * autocannon's result as JSON. With `spread: n`, `__N__` in a request's path and body becomes
 * `i mod n` for the i-th operation (one operation: the `requests` sequence once), so the load
 * goes to n flags instead of one.
 */
import autocannon from "autocannon";

type Options = autocannon.Options & { spread?: number };

const { spread, ...options } = JSON.parse(process.argv[2]) as Options;
let operations = 0;
const requests: autocannon.Request[] = options.requests ?? [{}];

const spreadRequests = (n: number): autocannon.Request[] =>
  requests.map((template, index) => ({
    ...template,
    setupRequest: (request: autocannon.Request, context: object) => {
      const state = context as { flag?: string };
      if (index === 0) state.flag = String(operations++ % n);
      const flag = state.flag ?? "0";
      const path = (template.path ?? request.path ?? "/").replaceAll("__N__", flag);
      const body = (template.body ?? request.body)?.toString().replaceAll("__N__", flag);
      return { ...request, path, ...(body === undefined ? {} : { body }) };
    },
  }));

autocannon(spread === undefined ? options : { ...options, requests: spreadRequests(spread) }).then(
  (result) => {
    process.stdout.write(JSON.stringify(result));
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
