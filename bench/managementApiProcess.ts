/**
 * Runs the Management API stand-in in a process of its own, as API Gateway is not on the Lambda's
 * CPU: `ts-node bench/managementApiProcess.ts <delayMs>` prints its endpoint, then serves until
 * its stdin closes.
 */
import { startFakeManagementApi } from "../tests/support/fakeManagementApi";

startFakeManagementApi({ delayMs: Number(process.argv[2] ?? 0) }).then((api) => {
  process.stdout.write(`${api.endpoint}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => api.stop().then(() => process.exit(0)));
});
