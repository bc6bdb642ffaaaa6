import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ConsoleBuild } from "../console/build";
import { CONSOLE_CACHE } from "../console/csp";
import { SecureBucket } from "./secureBucket";
import { serviceTrustPolicy } from "./serviceTrust";

/** Object key prefix of the console's files; API Gateway's role may read under it and nothing else. */
export const CONSOLE_PREFIX = "console/";

export interface ConsoleSiteArgs {
  /** The built console (`buildConsole()` of console/build.ts, run at `pulumi up`). */
  build: Promise<ConsoleBuild>;
  /**
   * Path under which API Gateway serves the console, ending in `/`: the page loads its assets
   * from there, since API Gateway answers `/console` and `/console/` alike.
   * @example "/dev/console/"
   */
  basePath: pulumi.Input<string>;
  /** The WebSocket URL the console connects to (the stack's `websocketUrl`), written to `config.json`. */
  websocketUrl: pulumi.Input<string>;
}

/**
 * The web console's files in a private bucket, and the role API Gateway assumes to read them:
 * `index.html` and `config.json` revalidated on every load, content-hashed assets cached for good.
 * FlagApi serves them at the API's URL + `/console/` (see `consoleRoutes` of restApiSpec.ts).
 */
export class ConsoleSite extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  /** Assumed by API Gateway; s3:GetObject under `console/` of this bucket only. */
  readonly role: aws.iam.Role;
  readonly bucketName: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: ConsoleSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:consoleSite:ConsoleSite", name, {}, opts);
    const built = pulumi.output(args.build);

    // Build output only: a destroy may delete it with its objects.
    const site = new SecureBucket(`${name}-console`, { forceDestroy: true }, { parent: this });
    const bucket = site.bucket;

    const createRole = () => {
      const role = new aws.iam.Role(
        `${name}-console-reader`,
        {
          description: "API Gateway reads the web console's files",
          // API Gateway documents no source keys for an integration's credentials role: they
          // must name this account whenever sent (an ARN pattern could refuse a format it sends).
          assumeRolePolicy: serviceTrustPolicy({
            service: "apigateway.amazonaws.com",
            account: aws.getCallerIdentityOutput({}, { parent: this }).accountId,
            keys: "if-sent",
          }),
        },
        { parent: this },
      );
      new aws.iam.RolePolicy(
        `${name}-console-reader`,
        {
          role: role.id,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Action: ["s3:GetObject"],
                Resource: pulumi.interpolate`${bucket.arn}/${CONSOLE_PREFIX}*`,
              },
            ],
          }),
        },
        { parent: this },
      );
      return role;
    };

    const object = (
      id: string,
      key: pulumi.Input<string>,
      source: pulumi.Input<pulumi.asset.Asset>,
      contentType: string,
      cacheControl: string,
    ) =>
      new aws.s3.BucketObjectv2(
        `${name}-console-${id}`,
        { bucket: bucket.id, key, source, contentType, cacheControl },
        { parent: this },
      );

    const uploadFiles = () => {
      // Assets by their hashed names: a new build adds new keys, so a cached page never mixes versions.
      for (const kind of ["script", "style"] as const) {
        object(
          kind,
          built.apply((b) => `${CONSOLE_PREFIX}${b[kind]}`),
          built.apply((b) => new pulumi.asset.FileAsset(path.join(b.dir, b[kind]))),
          kind === "script" ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
          CONSOLE_CACHE.asset,
        );
      }
      // The page names its assets by absolute path: the stage prefix, whatever the address typed.
      const index = pulumi.all([built, args.basePath]).apply(([b, basePath]) => {
        const html = readFileSync(path.join(b.dir, "index.html"), "utf8");
        return new pulumi.asset.StringAsset(html.replace(/(src|href)="assets\//g, `$1="${basePath}assets/`));
      });
      object("index", `${CONSOLE_PREFIX}index.html`, index, "text/html; charset=utf-8", CONSOLE_CACHE.page);
      const config = pulumi
        .output(args.websocketUrl)
        .apply((websocketUrl) => new pulumi.asset.StringAsset(JSON.stringify({ websocketUrl })));
      object("config", `${CONSOLE_PREFIX}config.json`, config, "application/json", CONSOLE_CACHE.page);
    };

    this.bucket = bucket;
    this.role = createRole();
    uploadFiles();
    this.bucketName = bucket.bucket;
    this.roleArn = this.role.arn;
    this.registerOutputs({ bucketName: this.bucketName, roleArn: this.roleArn });
  }
}
