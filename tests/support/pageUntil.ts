/**
 * Browser-side waiting, as text for `page.evaluate` (the tests' tsconfig has no DOM types, and the
 * console's CSP forbids the eval behind `page.waitForFunction(string)`).
 */

/** In the page: resolves once `condition` (an expression) holds, checked every frame. */
export const untilScript = (condition: string) => `new Promise((resolve, reject) => {
  const started = performance.now();
  const check = () => {
    if (${condition}) return resolve(performance.now() - started);
    if (performance.now() - started > 10000) return reject(new Error("timed out: " + ${JSON.stringify(condition)}));
    requestAnimationFrame(check);
  };
  check();
})`;

/**
 * In the page: puts `text` in the console's search box, as typing does, and resolves with the ms
 * until the list holds exactly `rows` flag rows: the wait a user sees between typing and the list
 * narrowed.
 */
export const searchScript = (text: string, rows: number) => `new Promise((resolve, reject) => {
  const input = document.querySelector('input[type="search"]');
  const started = performance.now();
  input.value = ${JSON.stringify(text)};
  input.dispatchEvent(new Event("input", { bubbles: true }));
  const check = () => {
    if (document.querySelectorAll("tr[data-flag]").length === ${rows}) return resolve(performance.now() - started);
    if (performance.now() - started > 10000) return reject(new Error("the list never narrowed"));
    requestAnimationFrame(check);
  };
  check();
})`;
