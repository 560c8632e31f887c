// The browser-dev host: the in-memory fake with demo data. Loaded lazily by createPlatform, so
// the bundle the desktop app runs does not carry it.
import { DEFAULT_SETTINGS, demoCalls, FakePlatform } from './fake';
import { FAKE_HUB_SERVER } from './fake-hub';

/**
 * The fake with demo calls, exposed as `window.enlaceFake` so it can be driven from the
 * console or a browser test. It has no organization server unless the page's URL says `?hub`
 * (server configured, Login screen) or `?hub=1234567` / `?hub=7654321` (already signed in as
 * that agent).
 */
export function createDemoPlatform(): FakePlatform {
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
