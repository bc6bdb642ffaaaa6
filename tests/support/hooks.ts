/**
 * Loaded by mocha before any test file (see .mocharc.json): one DynamoDB Local for the whole run,
 * stopped when the run ends, and quiet handler logs unless a test asks for them.
 */
import { type DynamoDbLocal, startDynamoDbLocal } from "../../local/supervisor";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
// The X-Ray SDK (through the handlers' Powertools Tracer) without its cls-hooked async hook, which
// would otherwise run on every promise of the run; the Tracer is off outside Lambda anyway. Loaded
// artifacts get the same (tests/support/artifacts.ts).
process.env.AWS_XRAY_MANUAL_MODE ??= "true";

let shared: Promise<DynamoDbLocal> | undefined;

/** The run's DynamoDB Local (in memory), started on first use. */
export function sharedDynamo(): Promise<DynamoDbLocal> {
  shared ??= startDynamoDbLocal();
  return shared;
}

let tables = 0;
/** A table name no other suite in this run uses. */
export const uniqueTableName = (prefix: string): string => `${prefix}-${process.pid}-${++tables}`;

export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (shared !== undefined) await (await shared).stop();
  },
};
