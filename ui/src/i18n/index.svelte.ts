// A tiny reactive translator. `t()` reads the current language from a rune, so any template
// that calls it re-renders when the language changes. Add a text: put the key in es.ts and
// en.ts (the type and i18n.test.ts fail otherwise), then pass the key to t().
import type { Language } from '../platform';
import { en } from './en';
import { es, type MessageKey } from './es';

export type { MessageKey };
export type UiLanguage = 'es' | 'en';

const dictionaries: Record<UiLanguage, Record<MessageKey, string>> = { es, en };

/** Error codes of the contract that have their own text (`errors.<code>`). */
export const ERROR_CODES = [
  'empty',
  'too_long',
  'control_character',
  'unsupported_scheme',
  'not_a_phone_number',
  'forbidden_character',
  'invalid_extension',
  'invalid_number',
  'invalid_country',
  'line_offline',
  'line_timeout',
  'line_rejected',
  'no_active_call',
  'hand_off_failed',
  'handler_failed',
  'storage',
  'invalid_setting',
  'not_found',
  'keyring_unavailable',
  'crm_not_linked',
  'crm_auth_failed',
  'crm_password_flow_blocked',
  'crm_reauth_required',
  'crm_access_denied',
  'crm_sign_in_timeout',
  'crm_rate_limited',
  'crm_unavailable',
  'crm_bad_reply',
  'crm_invalid_field',
  'crm_duplicate',
  'crm_no_permission',
  'crm_record_deleted',
  'crm_endpoint_not_found',
  'search_too_short',
  'bad_credentials',
  'throttled',
  'agent_disabled',
  'session_expired',
  'hub_unreachable',
  'hub_bad_reply',
  'insecure_hub_address',
  'forbidden',
  'pbx_offline',
  'invalid_request',
  'internal',
  'window_closed',
  'whatsapp_not_configured',
  'whatsapp_invalid_message',
  'whatsapp_unavailable',
  'whatsapp_window_closed',
  'whatsapp_rate_limited',
  'whatsapp_token_expired',
  'whatsapp_undeliverable',
  'whatsapp_template',
  'whatsapp_api_error',
  'media_too_large',
  'whatsapp_media_empty',
  'whatsapp_media_too_large',
  'whatsapp_media_type',
  'whatsapp_media_content',
  'microphone_unavailable',
  'microphone_denied',
  'recording_empty',
  'invalid_location',
  'hub_error',
  'pbx_refused',
] as const;

const current = $state<{ lang: UiLanguage }>({ lang: 'es' });

/** The text for `key` in the current language, with `{name}` placeholders filled in. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = dictionaries[current.lang][key] ?? es[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The translated text for a wire error code; unknown codes get a generic text. */
export function errorText(code: string): string {
  const key = `errors.${code}`;
  if (code !== 'unknown' && key in es) return t(key as MessageKey);
  return t('errors.unknown', { code });
}

export function language(): UiLanguage {
  return current.lang;
}

/** Switches the UI language and keeps `<html lang>` in step. */
export function setLanguage(lang: UiLanguage): void {
  current.lang = lang;
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

/** `auto` follows the OS locale (then the browser's): Spanish for any `es*`, else English. */
export function resolveLanguage(
  setting: Language,
  osLocale: string | null | undefined,
  browserLocale: string | null | undefined,
): UiLanguage {
  if (setting === 'es' || setting === 'en') return setting;
  const locale = (osLocale || browserLocale || '').trim().toLowerCase();
  if (locale === '') return 'es';
  return /^es([-_.@]|$)/.test(locale) ? 'es' : 'en';
}
