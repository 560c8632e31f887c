// The emoji picker's data and rules: parsing the compact list, searching by Spanish and English
// keywords (accents and case ignored), and the recently used ones kept in localStorage.
import { fold } from './composer';
import { EMOJI_CATEGORIES, EMOJI_SOURCE, type EmojiCategory } from './emoji-data';

export { EMOJI_CATEGORIES, type EmojiCategory };

export interface Emoji {
  char: string;
  category: EmojiCategory;
  en: string[];
  es: string[];
}

function parse(): Emoji[] {
  const out: Emoji[] = [];
  for (const category of EMOJI_CATEGORIES) {
    for (const line of EMOJI_SOURCE[category].split('\n')) {
      const [char, en, es] = line.split('|');
      if (!char || en === undefined || es === undefined) continue;
      const words = (list: string) =>
        list
          .split(',')
          .map((w) => w.trim())
          .filter(Boolean);
      out.push({ char, category, en: words(en), es: words(es) });
    }
  }
  return out;
}

export const EMOJI: readonly Emoji[] = parse();

export function emojiOfCategory(category: EmojiCategory): Emoji[] {
  return EMOJI.filter((e) => e.category === category);
}

/** The emoji whose Spanish or English keywords match `query`: word starts first. */
export function searchEmoji(query: string, limit = 80): Emoji[] {
  const q = fold(query.trim());
  if (q === '') return [];
  const starts: Emoji[] = [];
  const contains: Emoji[] = [];
  for (const e of EMOJI) {
    const words = [...e.es, ...e.en].map(fold);
    if (words.some((w) => w.startsWith(q) || w.split(' ').some((part) => part.startsWith(q)))) {
      starts.push(e);
    } else if (words.some((w) => w.includes(q))) {
      contains.push(e);
    }
  }
  return [...starts, ...contains].slice(0, limit);
}

/** The emoji's name in a language (its first keyword). */
export function emojiName(emoji: Emoji, lang: 'es' | 'en'): string {
  return (lang === 'es' ? emoji.es[0] : emoji.en[0]) ?? emoji.char;
}

export const RECENT_KEY = 'enlace.chat.recentEmoji';
export const RECENT_MAX = 24;

/** Where recents are kept: `localStorage` in the app, anything alike in tests. */
export type RecentStore = Pick<Storage, 'getItem' | 'setItem'>;

/** The recently used emoji, most recent first (bad or missing data reads as none). */
export function recentEmoji(store: RecentStore | null): string[] {
  try {
    const raw = store?.getItem(RECENT_KEY);
    const list: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(list)
      ? list
          .filter((e): e is string => typeof e === 'string' && e.length <= 16)
          .slice(0, RECENT_MAX)
      : [];
  } catch {
    return [];
  }
}

/** Puts `emoji` first among the recents and stores them; returns the new list. */
export function rememberEmoji(store: RecentStore | null, emoji: string): string[] {
  const list = [emoji, ...recentEmoji(store).filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try {
    store?.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // Storage full or refused: the list still works for this session.
  }
  return list;
}

/** The browser's localStorage when there is one. */
export function browserStore(): RecentStore | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
