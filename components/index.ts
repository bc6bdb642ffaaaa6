export * from "./auditPipeline";
export * from "./compliance";
export * from "./flagApi";
export * from "./observability";
export * from "./realtime";
export * from "./secureBucket";
export * from "./serviceFunction";
