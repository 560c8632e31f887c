// The one door to the host. Only files under src/platform/ may import @tauri-apps/* (eslint).
import { DEFAULT_SETTINGS, demoCalls, FakePlatform } from './fake';
import { FAKE_HUB_SERVER } from './fake-hub';
import type { Platform } from './platform';
import { createTauriPlatform } from './tauri';

export * from './types';
export { toWireError } from './platform';
export type { NavigateRequest, Platform, Unsubscribe } from './platform';
export {
  FakePlatform,
  DEFAULT_SETTINGS,
  FAKE_CRM_ACCOUNTS,
  FAKE_SALESFORCE_USER,
  demoContacts,
  type FakeOptions,
} from './fake';
export {
  FAKE_HUB_AGENTS,
  FAKE_HUB_SERVER,
  FAKE_THROTTLE,
  FakeHub,
  fakePauseReasons,
  type FakeHubOptions,
} from './fake-hub';
export {
  FAKE_INBOX_AGENTS,
  FakeInbox,
  WINDOW_MS,
  demoChats,
  fakeBusinessNumbers,
  fakeCannedResponses,
  fakeTemplates,
  type FakeChatSeed,
  type FakeChatSeedMessage,
  type FakeInboxOptions,
} from './fake-inbox';
export {
  FakeOutgoing,
  MEDIA_RULES,
  fakeOrgQuickAddresses,
  tinyPdf,
  type FakeFile,
  type FakeOutgoingOptions,
} from './fake-outgoing';
export { retryAfterOf, type WireErrorWithWait } from './platform';

/** True inside the Tauri webview. */
export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/**
 * The real host inside Tauri; otherwise (browser dev) the in-memory fake with demo calls,
 * exposed as `window.enlaceFake` so it can be driven from the console or a browser test.
 * The fake has no organization server unless the page's URL says `?hub` (server configured,
 * Login screen) or `?hub=1234567` / `?hub=7654321` (already signed in as that agent).
 */
export function createPlatform(): Platform {
  if (isTauri()) return createTauriPlatform();
  const hubFlag =
    typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('hub');
  const fake = new FakePlatform({
    hubServer: hubFlag === null ? null : FAKE_HUB_SERVER,
    hubLoggedInAs: hubFlag || null,
    calls: demoCalls(Date.now()),
    crmLinked: ['salesforce'],
    crmDelivery: 'auto',
    inbox: 'demo',
    inboxDelivery: 'auto',
    settings: { zoho: { ...DEFAULT_SETTINGS.zoho, clientId: '1000.DEMOCLIENTID' } },
  });
  (window as unknown as { enlaceFake: FakePlatform }).enlaceFake = fake;
  return fake;
}
