import * as fs from "node:fs";
import * as path from "node:path";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { parse } from "yaml";

/** The OFREP OpenAPI document, beside the repository as `../shared/specs/ofrep/openapi.yaml`. */
export const OFREP_SPEC_PATH = path.resolve(__dirname, "../../../shared/specs/ofrep/openapi.yaml");

type Doc = Record<string, any>;

/**
 * The document with exactly the two relaxations SOURCE.md names: no required targetingKey in a
 * context, and flagd's DEFAULT among the success reasons; plus the one reading explained below.
 * Each is applied where the document puts the rule, and fails loudly if the document moves it.
 */
export function relaxedOfrepDocument(): Doc {
  const doc = parse(fs.readFileSync(OFREP_SPEC_PATH, "utf8")) as Doc;
  const context = doc.components.schemas.context;
  if (!Array.isArray(context.required) || !context.required.includes("targetingKey")) {
    throw new Error("OFREP document: context.required no longer names targetingKey");
  }
  context.required = context.required.filter((name: string) => name !== "targetingKey");
  if (context.required.length === 0) delete context.required;
  const reason = doc.components.schemas.evaluationSuccess.allOf[0].properties.reason;
  if (!Array.isArray(reason.enum) || !reason.enum.includes("STATIC")) {
    throw new Error("OFREP document: evaluationSuccess reason enum moved");
  }
  reason.enum = [...reason.enum, "DEFAULT"];

  // Not a relaxation but a reading, without which no response carrying a value validates: the
  // document says a success's value matches exactly `oneOf` boolean, string, integer, float,
  // object or code-default shapes, yet `codeDefaultFlag` ({type: object, properties: {}}) admits
  // every object, and every integer is also a float. So "exactly one" fails for every value.
  // Read as intended: at least one shape (anyOf), and the code-default shape only without a value
  // (its own description: "This schema has no `value` property"). Arrays and nulls still fail.
  const shapes = doc.components.schemas.evaluationSuccess.allOf[1];
  if (!Array.isArray(shapes.oneOf) || shapes.oneOf.length !== 6) {
    throw new Error("OFREP document: evaluationSuccess value shapes moved");
  }
  shapes.anyOf = shapes.oneOf;
  delete shapes.oneOf;
  doc.components.schemas.codeDefaultFlag.not = { required: ["value"] };
  return doc;
}

export interface OfrepExchange {
  method: string;
  /** The path template of the operation, e.g. `/ofrep/v1/evaluate/flags/{key}`. */
  operation: string;
  status: number;
  headers: Headers;
  /** Raw body text. */
  text: string;
}

/**
 * Validates OFREP responses against the (relaxed) OpenAPI document with Ajv, a maintained JSON
 * Schema validator that speaks OpenAPI 3.1's dialect (2020-12): the status must be one the
 * operation defines, and a JSON body must match that response's schema.
 */
export function makeOfrepValidator() {
  const doc = relaxedOfrepDocument();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // An OpenAPI format JSON Schema does not define; any number is a float here.
  ajv.addFormat("float", { type: "number", validate: () => true });
  ajv.addSchema(doc, "ofrep");
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  let validated = 0;

  const validate = (exchange: OfrepExchange): void => {
    const operation = doc.paths[exchange.operation]?.[exchange.method.toLowerCase()];
    if (operation === undefined) throw new Error(`OFREP defines no ${exchange.method} ${exchange.operation}`);
    const response = operation.responses[String(exchange.status)];
    if (response === undefined) {
      throw new Error(`OFREP ${exchange.method} ${exchange.operation} defines no ${exchange.status}: ${exchange.text}`);
    }
    const schemaRef: string | undefined = response.content?.["application/json"]?.schema?.$ref;
    if (schemaRef === undefined) return;
    if (!exchange.headers.get("content-type")?.includes("application/json")) {
      throw new Error(`OFREP ${exchange.status} response is not application/json`);
    }
    let check = compiled.get(schemaRef);
    if (check === undefined) {
      check = ajv.compile({ $ref: `ofrep${schemaRef}` });
      compiled.set(schemaRef, check);
    }
    const body = JSON.parse(exchange.text);
    if (!check(body)) {
      throw new Error(
        `OFREP ${exchange.status} body does not match ${schemaRef}: ${ajv.errorsText(check.errors)}\n${exchange.text}`,
      );
    }
    validated++;
  };
  return { validate, count: () => validated };
}

export type OfrepValidator = ReturnType<typeof makeOfrepValidator>;

/** Which OFREP operation a request URL is for. */
export function ofrepOperation(url: string): string {
  const { pathname } = new URL(url);
  return /\/ofrep\/v1\/evaluate\/flags\/[^/]+$/.test(pathname)
    ? "/ofrep/v1/evaluate/flags/{key}"
    : "/ofrep/v1/evaluate/flags";
}

/** A fetch that validates every OFREP response it sees: what the providers under test are given. */
export function validatingFetch(validator: OfrepValidator): typeof fetch {
  return async (input, init) => {
    // Providers pass a Request, or a URL with init: one Request says method and URL either way.
    const request = new Request(input, init);
    const response = await fetch(request);
    const text = await response.clone().text();
    validator.validate({
      method: request.method,
      operation: ofrepOperation(request.url),
      status: response.status,
      headers: response.headers,
      text,
    });
    return response;
  };
}

export interface OfrepResult {
  status: number;
  headers: Headers;
  body: any;
}

/** A client for the OFREP endpoints that validates every response against the document. */
export function ofrepClient(baseUrl: string, token: string | undefined, validator: OfrepValidator) {
  const call = validatingFetch(validator);
  const post = async (urlPath: string, body: unknown, headers: Record<string, string> = {}): Promise<OfrepResult> => {
    const response = await call(`${baseUrl}${urlPath}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
        ...headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text.length > 0 ? JSON.parse(text) : undefined };
  };
  return {
    single: (key: string, context: unknown = {}, headers?: Record<string, string>) =>
      post(`/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`, { context }, headers),
    bulk: (context: unknown = {}, headers?: Record<string, string>) =>
      post("/ofrep/v1/evaluate/flags", { context }, headers),
    raw: post,
  };
}
