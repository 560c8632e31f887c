import { describe, expect, it } from 'vitest';
import type { TemplateView } from '../platform';
import {
  cannedQuery,
  composerKey,
  fillTemplate,
  filterCanned,
  formatCountdown,
  insertAt,
  parameterCount,
  placeholderNumbers,
  templateReady,
  windowLeft,
} from './composer';

describe('composerKey', () => {
  it('Enter sends, Shift+Enter breaks the line, composing text is left alone', () => {
    expect(composerKey({ key: 'Enter', shiftKey: false })).toBe('send');
    expect(composerKey({ key: 'Enter', shiftKey: true })).toBe('newline');
    expect(composerKey({ key: 'Enter', shiftKey: false, isComposing: true })).toBe('none');
    expect(composerKey({ key: 'Enter', shiftKey: false, altKey: true })).toBe('none');
    expect(composerKey({ key: 'a', shiftKey: false })).toBe('none');
  });
});

describe('the customer-service window', () => {
  const now = 1_000_000_000;
  it('counts down from 24:00:00', () => {
    expect(windowLeft(now + 24 * 3600_000, now)).toEqual({ seconds: 86_400, state: 'open' });
    expect(formatCountdown(86_400)).toBe('24:00:00');
    expect(formatCountdown(3_599)).toBe('00:59:59');
    expect(formatCountdown(3_600 * 5 + 61)).toBe('05:01:01');
  });

  it('warns in the last hour and closes at zero or when the customer never wrote', () => {
    expect(windowLeft(now + 3600_000, now).state).toBe('warning');
    expect(windowLeft(now + 3600_001, now).state).toBe('open');
    expect(windowLeft(now, now)).toEqual({ seconds: 0, state: 'closed' });
    expect(windowLeft(now - 5, now)).toEqual({ seconds: 0, state: 'closed' });
    expect(windowLeft(null, now)).toEqual({ seconds: 0, state: 'closed' });
  });

  it('never shows more than 24 hours (a clock behind the hub)', () => {
    expect(windowLeft(now + 30 * 3600_000, now).seconds).toBe(86_400);
  });
});

describe('canned responses', () => {
  const list = [
    { shortcut: 'hola', body: '¡Hola! ¿En qué le puedo ayudar?' },
    { shortcut: '/horario', body: 'Lunes a viernes' },
    { shortcut: 'gracias', body: 'Gracias por escribir' },
  ];
  it('opens only for a slash at the start of a single word', () => {
    expect(cannedQuery('/')).toBe('');
    expect(cannedQuery('/ho')).toBe('ho');
    expect(cannedQuery('hola /ho')).toBeNull();
    expect(cannedQuery('/ho la')).toBeNull();
    expect(cannedQuery('')).toBeNull();
  });
  it('lists shortcuts starting with the query first, then any containing it', () => {
    expect(filterCanned(list, 'ho').map((r) => r.shortcut)).toEqual(['hola', '/horario']);
    expect(filterCanned(list, '').length).toBe(3);
    expect(filterCanned(list, 'ESCRIB').map((r) => r.shortcut)).toEqual(['gracias']);
    expect(filterCanned(list, 'que').map((r) => r.shortcut)).toEqual(['hola']);
  });
});

describe('templates', () => {
  const template: TemplateView = {
    name: 'seguimiento',
    language: 'es',
    category: 'UTILITY',
    header: null,
    body: 'Hola {{1}}, su cita con {{2}} es el {{ 1 }}.',
    footer: null,
    parameterCount: 2,
  };
  it('fills the placeholders and marks the empty ones', () => {
    expect(placeholderNumbers(template.body)).toEqual([1, 2]);
    expect(fillTemplate(template.body, ['Ana', 'Luis'])).toBe(
      'Hola Ana, su cita con Luis es el Ana.',
    );
    expect(fillTemplate(template.body, ['Ana', ' '], (n) => `[${n}]`)).toBe(
      'Hola Ana, su cita con [2] es el Ana.',
    );
  });
  it('is ready only with every parameter filled', () => {
    expect(templateReady(template, ['Ana'])).toBe(false);
    expect(templateReady(template, ['Ana', ''])).toBe(false);
    expect(templateReady(template, ['Ana', 'Luis'])).toBe(true);
    expect(templateReady({ ...template, body: 'Hola', parameterCount: 0 }, [])).toBe(true);
  });
  it('counts the parameters from the body when it uses more than declared', () => {
    expect(parameterCount({ ...template, parameterCount: 0, body: 'a {{3}}' })).toBe(3);
  });
});

describe('insertAt', () => {
  it('replaces the selection and puts the caret after the insert', () => {
    expect(insertAt('hola mundo', 5, 10, '🙂')).toEqual({ text: 'hola 🙂', caret: 7 });
    expect(insertAt('hola', 99, 99, '!')).toEqual({ text: 'hola!', caret: 5 });
    expect(insertAt('', 0, 0, '👍')).toEqual({ text: '👍', caret: 2 });
  });
});
