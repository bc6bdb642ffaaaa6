import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/** A table's key schema and stream, as the handlers declare them (`FLAGS_TABLE`, …). */
export interface TableSpec {
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly attributes: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  /** Absent: no stream. */
  readonly streamViewType?: string;
}

/**
 * One of the service's DynamoDB tables: on demand, point-in-time recovery, encrypted, protected
 * from deletion unless `deletionProtection` is false, with a stream when the spec names one.
 */
export function serviceTable(
  name: string,
  spec: TableSpec,
  { deletionProtection, parent }: { deletionProtection: boolean; parent: pulumi.Resource },
): aws.dynamodb.Table {
  return new aws.dynamodb.Table(
    name,
    {
      billingMode: "PAY_PER_REQUEST",
      hashKey: spec.hashKey,
      ...(spec.rangeKey === undefined ? {} : { rangeKey: spec.rangeKey }),
      attributes: spec.attributes.map((attribute) => ({ ...attribute })),
      ...(spec.streamViewType === undefined ? {} : { streamEnabled: true, streamViewType: spec.streamViewType }),
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true },
      deletionProtectionEnabled: deletionProtection,
    },
    { parent },
  );
}
