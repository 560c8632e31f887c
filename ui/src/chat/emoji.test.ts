import { describe, expect, it } from 'vitest';
import {
  EMOJI,
  EMOJI_CATEGORIES,
  RECENT_KEY,
  RECENT_MAX,
  emojiOfCategory,
  recentEmoji,
  rememberEmoji,
  searchEmoji,
  type RecentStore,
} from './emoji';

function memory(
  initial: Record<string, string> = {},
): RecentStore & { data: Record<string, string> } {
  const data = { ...initial };
  return {
    data,
    getItem: (k) => data[k] ?? null,
    setItem: (k, v) => {
      data[k] = v;
    },
  };
}

describe('emoji data', () => {
  it('has a few hundred emoji, every one with Spanish and English names, none repeated', () => {
    expect(EMOJI.length).toBeGreaterThan(300);
    expect(new Set(EMOJI.map((e) => e.char)).size).toBe(EMOJI.length);
    for (const e of EMOJI) {
      expect(e.es.length, e.char).toBeGreaterThan(0);
      expect(e.en.length, e.char).toBeGreaterThan(0);
    }
    for (const c of EMOJI_CATEGORIES) expect(emojiOfCategory(c).length, c).toBeGreaterThan(20);
  });
});

describe('searchEmoji', () => {
  it('finds by Spanish and English names, ignoring accents and case', () => {
    expect(searchEmoji('corazon').map((e) => e.char)).toContain('❤️');
    expect(searchEmoji('CORAZÓN').map((e) => e.char)).toContain('❤️');
    expect(searchEmoji('heart').map((e) => e.char)).toContain('❤️');
    expect(searchEmoji('pulgar')[0]!.char).toBe('👍');
    expect(searchEmoji('thumbs').map((e) => e.char)).toEqual(['👍', '👎']);
    expect(searchEmoji('gracias').map((e) => e.char)).toContain('🙏');
  });
  it('ranks word starts before matches inside a word', () => {
    const found = searchEmoji('risa').map((e) => e.char);
    expect(found.indexOf('😆')).toBeLessThan(found.indexOf('😊'));
  });
  it('finds nothing for an empty or unknown query', () => {
    expect(searchEmoji('   ')).toEqual([]);
    expect(searchEmoji('zzqqxx')).toEqual([]);
  });
});

describe('recently used', () => {
  it('keeps the latest first, without repeats, at most RECENT_MAX', () => {
    const store = memory();
    rememberEmoji(store, '👍');
    rememberEmoji(store, '😂');
    expect(rememberEmoji(store, '👍')).toEqual(['👍', '😂']);
    expect(recentEmoji(store)).toEqual(['👍', '😂']);
    for (const e of EMOJI.slice(0, 40)) rememberEmoji(store, e.char);
    expect(recentEmoji(store)).toHaveLength(RECENT_MAX);
  });
  it('reads bad stored data as none and works without storage', () => {
    expect(recentEmoji(memory({ [RECENT_KEY]: '{nope' }))).toEqual([]);
    expect(recentEmoji(memory({ [RECENT_KEY]: '{"a":1}' }))).toEqual([]);
    expect(recentEmoji(memory({ [RECENT_KEY]: '[1,"👍"]' }))).toEqual(['👍']);
    expect(rememberEmoji(null, '👍')).toEqual(['👍']);
  });
});
