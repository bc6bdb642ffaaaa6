import { config } from "zod";

// The page's CSP has no unsafe-eval: zod must neither compile parsers with `new Function` nor
// probe whether it may (a caught probe still reports a securitypolicyviolation).
config({ jitless: true });
