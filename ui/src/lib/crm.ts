// Labels of CRM values, shared by the panels.
import { t, type MessageKey } from '../i18n/index.svelte';
import type { ContactKindView, CrmKind, OutboxStateView, SettingsView } from '../platform';

const KIND: Record<ContactKindView, MessageKey> = {
  contact: 'kind.contact',
  lead: 'kind.lead',
};

const CRM: Record<CrmKind, MessageKey> = {
  salesforce: 'crm.salesforce',
  zoho: 'crm.zoho',
};

export const WRITE_STATE: Record<OutboxStateView, MessageKey> = {
  pending: 'crmWrite.pending',
  sending: 'crmWrite.sending',
  delivered: 'crmWrite.delivered',
  needs_attention: 'crmWrite.needs_attention',
};

/** Contacto / Candidato. */
export function kindLabel(kind: ContactKindView): string {
  return t(KIND[kind]);
}

/** Salesforce / Zoho CRM. */
export function crmLabel(crm: CrmKind): string {
  return t(CRM[crm]);
}

/** The fields a `crm_invalid_field` error may name (`WireError.field`), with their labels. */
export const CONTACT_FIELDS = {
  first_name: 'newContact.firstName',
  last_name: 'newContact.lastName',
  email: 'newContact.email',
  phone: 'newContact.phone',
  mobile: 'newContact.mobile',
  company: 'newContact.company',
} as const satisfies Record<string, MessageKey>;
export type ContactField = keyof typeof CONTACT_FIELDS;

export function isContactField(field: string | null): field is ContactField {
  return field !== null && Object.hasOwn(CONTACT_FIELDS, field);
}

/** Zoho data centres: the accounts server of each (the redirect's `accounts-server` wins). */
export const ZOHO_ACCOUNTS_SERVERS: { url: string; label: MessageKey }[] = [
  { url: 'https://accounts.zoho.com', label: 'zohoDc.com' },
  { url: 'https://accounts.zoho.eu', label: 'zohoDc.eu' },
  { url: 'https://accounts.zoho.in', label: 'zohoDc.in' },
  { url: 'https://accounts.zoho.com.au', label: 'zohoDc.com_au' },
  { url: 'https://accounts.zoho.jp', label: 'zohoDc.jp' },
  { url: 'https://accounts.zohocloud.ca', label: 'zohoDc.ca' },
  { url: 'https://accounts.zoho.sa', label: 'zohoDc.sa' },
  { url: 'https://accounts.zoho.com.cn', label: 'zohoDc.com_cn' },
];

/** CRM settings for a host that does not send them yet (the app's defaults). */
export const CRM_SETTINGS_DEFAULTS: Pick<SettingsView, 'salesforce' | 'zoho'> = {
  salesforce: {
    loginHost: 'https://login.salesforce.com',
    clientId: 'PlatformCLI',
    redirectPort: 1717,
  },
  zoho: {
    accountsServer: 'https://accounts.zoho.com',
    clientId: '',
    clientSecretSet: false,
    redirectPort: 8765,
  },
};
