import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { evaluatorsTableFor, FLAG_SET_KEY } from "../../handlers/evaluators/table";
import { localDynamoClient } from "../../local/dynamodb";
import type { RunningService } from "../../local/service";

/**
 * Sets a flag's stored `clientSide` attribute and moves the flag-set version, as a write through
 * the REST API does, so OFREP reloads. Written to the table directly: the REST field is added by
 * the client-keys change of the same issue; what OFREP reads is the stored attribute either way.
 */
export async function setClientSide(service: RunningService, flagName: string, clientSide = true): Promise<void> {
  const client = localDynamoClient(service.dynamoEndpoint);
  try {
    const doc = DynamoDBDocumentClient.from(client);
    await doc.send(
      new UpdateCommand({
        TableName: service.tableName,
        Key: { flagName },
        UpdateExpression: "SET clientSide = :on",
        ConditionExpression: "attribute_exists(flagName)",
        ExpressionAttributeValues: { ":on": clientSide },
      }),
    );
    await doc.send(
      new UpdateCommand({
        TableName: evaluatorsTableFor(service.tableName),
        Key: { name: FLAG_SET_KEY },
        UpdateExpression: "ADD setVersion :one",
        ExpressionAttributeValues: { ":one": 1 },
      }),
    );
  } finally {
    client.destroy();
  }
}
