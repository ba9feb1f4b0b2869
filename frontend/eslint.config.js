// ESLint (flat config), run first by `npm test`: typescript-eslint's recommended
// rules, and React's hook rules, which catch effects that miss a dependency, refs
// read during render and state set synchronously in an effect.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'test-output/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['src/**/*.{ts,tsx}'],
    extends: [reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
  },
  {
    // The browser tests, their stack and the tools' configs run in node; the
    // callbacks the tests hand to page.evaluate() run in the page.
    files: ['e2e/**/*.{js,mjs,ts}', '*.config.{js,ts}'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
