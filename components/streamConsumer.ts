import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/** Read access to DynamoDB streams, as a Lambda event source mapping or a Pipe needs it. */
export function streamReadStatements(...streamArns: pulumi.Input<string>[]): aws.iam.PolicyStatement[] {
  return [
    {
      Effect: "Allow",
      Action: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
      Resource: streamArns,
    },
    // ListStreams names no stream and supports no resource scoping: IAM only accepts "*" for it.
    { Effect: "Allow", Action: ["dynamodb:ListStreams"], Resource: "*" },
  ];
}

/** Where a stream consumer parks records it gave up on: encrypted, kept for SQS's maximum 14 days. */
export function deadLetterQueue(name: string, parent: pulumi.Resource): aws.sqs.Queue {
  return new aws.sqs.Queue(
    name,
    { sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 60 * 60 },
    { parent },
  );
}
