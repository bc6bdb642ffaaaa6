export * from "./auditPipeline";
export * from "./compliance";
export * from "./consoleSite";
export * from "./flagApi";
export * from "./observability";
export * from "./realtime";
export * from "./secureBucket";
export * from "./serviceFunction";
