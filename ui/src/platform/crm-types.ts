// Hand-written wire types of the CRM contract (notes/contract3.md, "IPC"), kept field for field
// as the contract states them. When the Rust side generates them with ts-rs into `bindings/`,
// delete this file and re-export the generated ones from `types.ts` instead; nothing else changes.
import type { CallView as BaseCallView } from './bindings/CallView';
import type { SettingsView as BaseSettingsView } from './bindings/SettingsView';

export type CrmKind = 'salesforce' | 'zoho';
export type ContactKindView = 'contact' | 'lead';

export interface ContactView {
  crm: CrmKind;
  id: string;
  kind: ContactKindView;
  name: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  mobile: string | null;
  company: string | null;
}

export type OutboxStateView = 'pending' | 'sending' | 'delivered' | 'needs_attention';

export interface CrmWriteView {
  id: number;
  kind: 'create_contact' | 'log_call';
  state: OutboxStateView;
  attempts: number;
  errorCode: string | null;
  errorMessage: string | null;
  errorField: string | null;
}

/** The CRM record a call is attached to; `id` is null while its creation is queued. */
export interface CallRecordView {
  crm: CrmKind;
  kind: ContactKindView;
  id: string | null;
  name: string;
}

/** `CallView` of notes/contract.md plus the CRM fields of notes/contract3.md. */
export type CallView = BaseCallView & {
  record: CallRecordView | null;
  subject: string | null;
  comment: string | null;
  crmWrites: CrmWriteView[];
  /** Incoming: cached records sharing the number, for the chooser. */
  callerMatches: ContactView[];
};

export type CrmLinkState = 'ok' | 'needs_reauth' | 'keyring_unavailable' | 'not_linked';

export interface CrmLinkView {
  crm: CrmKind;
  linked: boolean;
  /** Username (Salesforce) or e-mail (Zoho). */
  account: string | null;
  state: CrmLinkState;
  detail: string | null;
  accessExpiresAt: number | null;
  /** E.g. the Zoho cap of 20 refresh tokens per user and client. */
  warning: string | null;
}

export interface CrmStatusView {
  keyring: { available: boolean; detail: string | null };
  links: CrmLinkView[];
  pendingWrites: number;
  needsAttention: number;
}

export interface SalesforceSettings {
  loginHost: string;
  clientId: string;
  redirectPort: number;
}

export interface ZohoSettings {
  accountsServer: string;
  clientId: string;
  clientSecret: string;
  redirectPort: number;
}

/** `SettingsView` of notes/contract.md plus the CRM settings. */
export type SettingsView = BaseSettingsView & {
  salesforce: SalesforceSettings;
  zoho: ZohoSettings;
};

export interface NewContactInput {
  kind: ContactKindView;
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  mobile: string;
  company: string;
}
