import { type RunningService, startService } from "../../local/service";
import { sharedDynamo, uniqueTableName } from "./hooks";
import { type Client, client } from "./http";

/** A local service on a random port, over its own table in the run's shared DynamoDB Local. */
export async function startTestService(
  options: { allowFlagDeletion?: () => boolean } = {},
): Promise<{ service: RunningService; api: Client }> {
  const dynamo = await sharedDynamo();
  const service = await startService({
    port: 0,
    dynamoEndpoint: dynamo.endpoint,
    tableName: uniqueTableName("http"),
    allowFlagDeletion: options.allowFlagDeletion ?? (() => true),
  });
  return { service, api: client(service.url) };
}
