export * from "./flagApi";
export * from "./serviceFunction";
