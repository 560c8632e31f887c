import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

// Only `src/platform/**` may talk to the host; everything else goes through the Platform interface.
/** @type {import('eslint').Linter.RulesRecord} */
const hostImports = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['@tauri-apps/*'],
          message: 'Only src/platform/ may import @tauri-apps/*; use the Platform interface.',
        },
        {
          group: ['**/platform/bindings/*', './bindings/*'],
          message: 'Import wire types from src/platform (index/types), not from bindings/.',
        },
      ],
    },
  ],
};

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'src/platform/bindings/'] },
  js.configs.recommended,
  ts.configs.recommended,
  svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig,
      },
    },
  },
  {
    files: ['vite.config.ts', 'svelte.config.js', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.svelte'],
    rules: hostImports,
  },
  {
    files: ['src/platform/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'svelte/no-navigation-without-resolve': 'off',
    },
  },
);
