import { isServiceError, serviceError } from "../errors";
import { type ApiResponse, errorBody, parseJsonBody, type RouteHandler } from "../http";
import { type FlagSets, type PartialImportError, parseFlagSetIfMatch } from "./service";

/** A boolean query parameter: absent is false. */
function parseFlag(query: Readonly<Record<string, string>>, name: string): boolean {
  const raw = query[name];
  if (raw === undefined || raw === "false") return false;
  if (raw === "true") return true;
  throw serviceError("VALIDATION_FAILED", `${name} must be true or false, not '${raw}'`);
}

/** `GET /flagset`: every flag and evaluator as one flagd document, with the set's ETag. */
export function makeFlagSetReadRoutes({
  flagSets,
}: {
  flagSets: Pick<FlagSets, "export">;
}): Record<string, RouteHandler> {
  return {
    "GET /flagset": async () => {
      const { document, etag } = await flagSets.export();
      return { status: 200, body: document, headers: { ETag: etag } };
    },
  };
}

/**
 * `PUT /flagset?dryRun=&prune=`, `If-Match`: the import. A failure part-way answers its error
 * with `applied`, what the import had done before it stopped.
 */
export function makeFlagSetWriteRoutes({
  flagSets,
}: {
  flagSets: Pick<FlagSets, "import">;
}): Record<string, RouteHandler> {
  return {
    "PUT /flagset": async (request): Promise<ApiResponse> => {
      const dryRun = parseFlag(request.query, "dryRun");
      const prune = parseFlag(request.query, "prune");
      const ifMatch = parseFlagSetIfMatch(request.header("If-Match"));
      const body = parseJsonBody(request);
      try {
        const { summary, etag } = await flagSets.import(body, { dryRun, prune, ifMatch, actor: request.actor });
        return { status: 200, body: summary, ...(etag === undefined ? {} : { headers: { ETag: etag } }) };
      } catch (error) {
        if (!isServiceError(error) || (error as Partial<PartialImportError>).applied === undefined) throw error;
        const { applied } = error as PartialImportError;
        const answer = errorBody(error.code, error.message);
        return { status: error.status, body: { error: { ...answer.error, applied } } };
      }
    },
  };
}
