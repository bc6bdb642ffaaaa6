// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "**/dist/**", ".flags-local/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      eqeqeq: ["error", "always"],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["@pulumi/*"], message: "runtime code never imports Pulumi" }] },
      ],
    },
  },
  {
    // Only handlers/ and local/ are runtime code; the program, components and tests use Pulumi.
    files: ["index.ts", "components/**", "tests/**", "bench/**"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["tests/**", "packages/*/test/**"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
