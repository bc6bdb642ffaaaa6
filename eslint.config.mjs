// @ts-check
import js from "@eslint/js";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
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
    // No import circle anywhere (issue 24): a module must be readable without the ones that import it.
    files: ["**/*.ts", "**/*.tsx", "**/*.mjs"],
    plugins: { "import-x": importX },
    settings: {
      // Without these it reads an imported .ts file as JavaScript, fails, and sees no imports in it.
      "import-x/extensions": [".ts", ".tsx", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts", ".tsx"] },
      "import-x/resolver-next": [
        createTypeScriptImportResolver({
          project: ["tsconfig.json", "console/src/tsconfig.json", "packages/*/tsconfig.json"],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
    rules: { "import-x/no-cycle": ["error", { ignoreExternal: true }] },
  },
  {
    // Code Pulumi serializes into the Lambda functions: its serializer turns a module-level Set or
    // Map into a plain object (every `has` then throws) and drops class-field initializers. Both
    // made deployed functions answer 500 before this rule (issue 19).
    files: ["handlers/**/*.ts", "packages/openfeature-provider/src/evaluation/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector:
            ":matches(Program, Program > ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > NewExpression",
          message:
            "no instance at module level in serialized code: build it inside a function (Pulumi serializes it as a plain object)",
        },
        {
          selector: "PropertyDefinition[value!=null]",
          message:
            "no class-field initializer in serialized code: set the field in the constructor (Pulumi drops initializers)",
        },
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
