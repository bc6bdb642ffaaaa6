export * from "./flagApi";
export * from "./realtime";
export * from "./serviceFunction";
