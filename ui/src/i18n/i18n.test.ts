import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { en } from './en';
import { es } from './es';
import { ERROR_CODES, errorText, language, resolveLanguage, setLanguage, t } from './index.svelte';

const SRC = join(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'bindings' ? [] : sourceFiles(path);
    return /\.(ts|svelte)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

afterEach(() => setLanguage('es'));

describe('dictionaries', () => {
  it('have the same keys in Spanish and English, none empty', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(es).sort());
    for (const [key, text] of [...Object.entries(es), ...Object.entries(en)]) {
      expect(text.trim(), key).not.toBe('');
    }
  });

  it('use the same placeholders in both languages', () => {
    for (const key of Object.keys(es) as (keyof typeof es)[]) {
      expect(placeholders(en[key]), key).toEqual(placeholders(es[key]));
    }
  });

  it('contain every key the code passes to t()', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*['"`]([^'"`]+)['"`]/g)) used.add(m[1]!);
      // Keys kept in tables (e.g. `label: 'nav.calls'`) are checked too.
      for (const m of text.matchAll(
        /['"]((?:app|nav|line|direction|endReason|units|crm|calls|history|dialer|incoming|active|settings|notConnected|errors|login|hub|agentState|pauses|exit|management|chat|inbox)\.[A-Za-z_.]+)['"]/g,
      )) {
        used.add(m[1]!);
      }
    }
    expect(used.size).toBeGreaterThan(50);
    const missing = [...used].filter((key) => !(key in es) || !(key in en));
    expect(missing).toEqual([]);
  });

  it('have a text for every error code of the contract, plus a fallback', () => {
    for (const code of [...ERROR_CODES, 'unknown']) {
      expect(es, code).toHaveProperty([`errors.${code}`]);
      expect(en, code).toHaveProperty([`errors.${code}`]);
    }
  });
});

describe('t()', () => {
  it('translates in the current language and fills placeholders', () => {
    expect(t('nav.calls')).toBe('Llamadas');
    expect(t('calls.dialNumber', { number: '+50640004000' })).toBe('Llamar a +50640004000');
    setLanguage('en');
    expect(language()).toBe('en');
    expect(t('nav.calls')).toBe('Calls');
    expect(document.documentElement.lang).toBe('en');
  });

  it('gives a generic text with the code for unknown error codes', () => {
    expect(errorText('line_offline')).toBe('La línea telefónica no está conectada.');
    expect(errorText('brand_new_code')).toBe('Ocurrió un error inesperado (brand_new_code).');
    setLanguage('en');
    expect(errorText('brand_new_code')).toBe('An unexpected error occurred (brand_new_code).');
  });
});

describe('resolveLanguage()', () => {
  it.each([
    ['es', 'en-US', 'en-US', 'es'],
    ['en', 'es-MX', 'es-MX', 'en'],
    ['auto', 'es-CR', 'en-US', 'es'],
    ['auto', 'es_MX.UTF-8', null, 'es'],
    ['auto', 'es', null, 'es'],
    ['auto', 'en-GB', 'es-ES', 'en'],
    ['auto', 'pt-BR', null, 'en'],
    ['auto', 'est', null, 'en'],
    ['auto', '', 'es-AR', 'es'],
    ['auto', null, 'fr-FR', 'en'],
  ] as const)('%s with OS %s and browser %s → %s', (setting, os, browser, expected) => {
    expect(resolveLanguage(setting, os, browser)).toBe(expected);
  });
});
