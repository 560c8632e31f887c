// The one door to the host. Only files under src/platform/ may import @tauri-apps/* (eslint).
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
 * The real host inside Tauri; otherwise (browser dev) the in-memory fake with demo calls
 * (`demo.ts`, loaded only then: the app's bundle does not carry it).
 */
export async function createPlatform(): Promise<Platform> {
  if (isTauri()) return createTauriPlatform();
  const { createDemoPlatform } = await import('./demo');
  return createDemoPlatform();
}
