/**
 * The script `npm run bench -- cost` runs in a fresh Node process to measure one OFREP event
 * stream as Lambda would hold it: the events function's bundle loaded, one stream open for
 * `durationMs`, then its CPU time and the process's peak resident memory (what the function's
 * memory setting must hold; Lambda runs one stream per execution environment). Plain JavaScript
 * text, so the child needs no TypeScript loader: `node <file> <bundle> <event JSON> <ms>`.
 */
export const EVENT_STREAM_PROCESS = String.raw`
const { Writable } = require("node:stream");
const [bundle, eventJson, durationText, mode] = process.argv.slice(2);
// Lambda's runtime makes the awslambda global before it loads a handler.
globalThis.awslambda = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: { from: (stream, prelude) => (stream.write(JSON.stringify(prelude)), stream.write(Buffer.alloc(8)), stream) },
};
const loaded = require(bundle).handler;
const afterLoad = process.memoryUsage().rss;
let bytes = 0;
const sink = new Writable({ write(chunk, _encoding, callback) { bytes += chunk.length; callback(); } });
const started = process.cpuUsage();
const startedAt = Date.now();
const running = mode === "idle" ? new Promise((resolve) => setTimeout(resolve, Number(durationText))) : loaded(JSON.parse(eventJson), sink, {});
setTimeout(() => sink.destroy(), Number(durationText));
running.then(() => {
  const cpu = process.cpuUsage(started);
  process.stdout.write(JSON.stringify({
    wallMs: Date.now() - startedAt,
    cpuMs: (cpu.user + cpu.system) / 1000,
    bytes,
    rssAfterLoadMiB: afterLoad / 2 ** 20,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }));
  // The container's clients keep sockets open: Lambda would freeze it; this process just ends.
  process.exit(0);
}, (error) => { console.error(error); process.exit(1); });
`;
