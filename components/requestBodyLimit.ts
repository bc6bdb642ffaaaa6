import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { errorBody, MAX_BODY_BYTES } from "../handlers/http";

/**
 * A WAF web ACL on the REST stage that refuses bodies over MAX_BODY_BYTES with the contract's 413
 * before any Lambda runs (API Gateway itself accepts up to 10 MB). Children of `parent`, named
 * after `name`.
 */
export function requestBodyLimit(name: string, stage: aws.apigateway.Stage, parent: pulumi.Resource): void {
  const ruleName = "request-body-limit";
  const acl = new aws.wafv2.WebAcl(
    `${name}-waf`,
    {
      scope: "REGIONAL",
      description: `Refuses request bodies over ${MAX_BODY_BYTES} bytes`,
      defaultAction: { allow: {} },
      // WAF sees at most this much of a body; OversizeHandling MATCH makes anything longer match.
      associationConfig: { requestBodies: [{ apiGateway: { defaultSizeInspectionLimit: "KB_64" } }] },
      customResponseBodies: [
        {
          key: "payload-too-large",
          contentType: "APPLICATION_JSON",
          content: JSON.stringify(errorBody("PAYLOAD_TOO_LARGE", `request body exceeds ${MAX_BODY_BYTES} bytes`)),
        },
      ],
      ruleJson: JSON.stringify([
        {
          Name: ruleName,
          Priority: 0,
          Action: {
            Block: { CustomResponse: { ResponseCode: 413, CustomResponseBodyKey: "payload-too-large" } },
          },
          Statement: {
            SizeConstraintStatement: {
              FieldToMatch: { Body: { OversizeHandling: "MATCH" } },
              ComparisonOperator: "GT",
              Size: MAX_BODY_BYTES,
              TextTransformations: [{ Priority: 0, Type: "NONE" }],
            },
          },
          VisibilityConfig: { SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: ruleName },
        },
      ]),
      visibilityConfig: {
        sampledRequestsEnabled: true,
        cloudwatchMetricsEnabled: true,
        metricName: `${name}-waf`,
      },
    },
    { parent },
  );
  new aws.wafv2.WebAclAssociation(`${name}-waf-stage`, { resourceArn: stage.arn, webAclArn: acl.arn }, { parent });
}
