// ESLint over the whole tree (`make lint`; docs/architecture.md, "Lint rules").
// TypeScript: typescript-eslint's type-checked rules, with the types of the real programs (each
// package's tsconfig for src/, tsconfig.typecheck-tests.json for the tests). JavaScript (bench,
// scripts, deploy helpers, fixtures): the same non-type rules. Every file: eslint-plugin-regexp,
// whose super-linear rules reject a regular expression that can backtrack catastrophically.
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import js from '@eslint/js';
import globals from 'globals';
import regexp from 'eslint-plugin-regexp';
import tseslint from 'typescript-eslint';

// `_name` says "deliberately unused"; `{ a, ...rest }` may drop a key on purpose.
const UNUSED = {
  argsIgnorePattern: '^_',
  varsIgnorePattern: '^_',
  caughtErrorsIgnorePattern: '^_',
  destructuredArrayIgnorePattern: '^_',
  ignoreRestSiblings: true,
};

const MODE = process.env.ETU_LINT_MODE ?? 'strict';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'proto/gen/**',
      'prisma/src/generated/**',
      'coverage/**',
      'e2e/artifacts/**',
      'test-artifacts/**',
      'bench/tmp/**',
      '.run/**',
      'backups/**',
    ],
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  // A disable comment names its rule and says why, after `--` on the same line.
  comments.recommended,
  { rules: { '@eslint-community/eslint-comments/require-description': ['error', { ignore: ['eslint-enable'] }] } },
  regexp.configs['flat/recommended'],
  // Catastrophic backtracking (issue 15): a match that can take polynomial or exponential time
  // (no-super-linear-backtracking, in recommended) or a quadratic scan over the input
  // (no-super-linear-move: `/\/+$/` on "/////…x") fails the lint.
  { rules: { 'regexp/no-super-linear-move': 'error' } },
  {
    files: ['**/*.ts'],
    extends: MODE === 'strict' ? [tseslint.configs.strictTypeChecked] : [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        project: [
          './tsconfig.typecheck-tests.json',
          './proto/tsconfig.json',
          './prisma/tsconfig.json',
          './services/*/tsconfig.json',
          './gateway/tsconfig.json',
          './testkit/tsconfig.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/no-unused-vars': ['error', UNUSED],
    },
  },
  {
    // Tests only. They read `any` by library design (supertest's `res.body`, JSON.parse of a child's
    // output, the YAML model of compose.yaml, jest's `expect.any(Date)`), and each such value goes
    // straight into an expect() that checks it at run time: the no-unsafe family stays on for src/.
    // They send raw wire numbers on purpose (an unknown enum value must be refused). And their
    // teardown guards (`await h?.close()` for a `let h: Harness` that a failed beforeAll never set)
    // are right at run time though TypeScript calls them unnecessary.
    files: ['**/test/**/*.ts', '**/*.test.ts', 'e2e/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-enum-assignment': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}', 'prisma/prisma.config.ts'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
    rules: { 'no-unused-vars': ['error', UNUSED] },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
