import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { makeFlagStore } from "../../handlers/flags/store";
import { makeFlagSets, type PartialImportError } from "../../handlers/flagset/service";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

const plain = (value: unknown) => ({ state: "ENABLED", variants: { default: value }, defaultVariant: "default" });

describe("PUT /flagset's apply when someone's change breaks in (handlers/flagset, DynamoDB Local)", () => {
  it("stops at the flag that moved, leaves the rest untouched and names exactly what it applied", async () => {
    const client = localDynamoClient((await sharedDynamo()).endpoint);
    const tableName = uniqueTableName("flagset-race");
    await ensureFlagsTable(client, tableName);
    const doc = DynamoDBDocumentClient.from(client);
    const flags = makeFlagStore({ doc, tableName });
    const evaluators = makeEvaluatorStore({
      doc,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    });
    for (const flagName of ["a", "b", "c"]) await flags.create({ flagName, value: 1 }, "admin");
    // A colleague's PUT of "b" lands after the import planned and before it writes "b".
    const racing: typeof flags = {
      ...flags,
      update: async (flagName, input, actor, expectedVersion, options) => {
        if (flagName === "b") await flags.update("b", { value: 42 }, "colleague");
        return flags.update(flagName, input, actor, expectedVersion, options);
      },
    };
    const flagSets = makeFlagSets({
      doc,
      flagsTable: tableName,
      evaluatorsTable: evaluatorsTableFor(tableName),
      flags: racing,
      evaluators,
      isDeletionAllowed: async () => true,
    });

    const failure = (await flagSets
      .import({ flags: { a: plain(2), b: plain(2), c: plain(2) } }, { dryRun: false, prune: false, actor: "pipeline" })
      .then(
        () => assert.fail("the import applied over a colleague's change"),
        (error: unknown) => error,
      )) as PartialImportError;

    assert.equal(failure.code, "VERSION_CONFLICT");
    assert.match(failure.message, /flag 'b'/);
    assert.deepEqual(failure.applied.flags, { created: [], updated: ["a"], deleted: [], unchanged: 0 });
    const read = async (flagName: string) => {
      const flag = await flags.read(flagName);
      return [flag.value ?? flag.variants?.default, flag.updatedBy];
    };
    assert.deepEqual(await read("a"), [2, "pipeline"]);
    assert.deepEqual(await read("b"), [42, "colleague"]);
    assert.deepEqual(await read("c"), [1, "admin"]);
    client.destroy();
  });
});
