/**
 * `npm run build:dynamodb-launcher`: compiles LoopbackDynamoDbLocal.java against the DynamoDB Local
 * jar into the class committed beside it (needs a JDK; running it needs only Java 17+).
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { dynamoDbLocalFiles, LAUNCHER_CLASS, LAUNCHER_DIR } from "../dynamodbCommand";

/** Compiles the launcher into `outDir` for Java 17. */
export function compileLauncher(outDir: string): string {
  execFileSync(
    "javac",
    [
      "--release",
      "17",
      "-cp",
      dynamoDbLocalFiles().jar,
      "-d",
      outDir,
      path.join(LAUNCHER_DIR, `${LAUNCHER_CLASS}.java`),
    ],
    { stdio: "inherit" },
  );
  return path.join(outDir, `${LAUNCHER_CLASS}.class`);
}

if (require.main === module) console.log(`wrote ${compileLauncher(LAUNCHER_DIR)}`);
