//! Wire types: the IPC surface between the shell and the webview, declared once here.
//! TypeScript bindings are generated from these by ts-rs into `ui/src/platform/bindings/`
//! (see `bindings_are_current` below; regenerate with `ENLACE_UPDATE_BINDINGS=1 cargo test -p
//! enlace-desktop bindings`). Domain types stay free of serde; they convert here with `From`.

use enlace_app::{
    AppError, CallLog, CrmLinkStatus, CrmStatus, HandOffKind, Language, LineKind, LinkState,
    OutboxEntry, OutboxKind, OutboxState, Settings,
};
use enlace_core::{
    CallDirection, CallRecord, CallStatus, Contact, ContactKind, Country, Crm, DialTarget,
    EndReason, LogState, NewContact,
};
use enlace_crm::{SalesforceConfig, ZohoConfig};
use enlace_hub_client as hub_client;
use enlace_telephony::LineStatus;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub mod inbox;
pub use inbox::*;

/// The one error shape the UI sees. It acts on `code`; `message` is for logs and tooltips.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub code: String,
    pub message: String,
    /// For `invalid_setting`: the settings field (camelCase) the problem is about.
    pub field: Option<String>,
    /// For `throttled`: how many seconds to wait before trying again (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_seconds: Option<u32>,
}

impl From<AppError> for WireError {
    fn from(e: AppError) -> Self {
        WireError {
            code: e.code().as_str().to_owned(),
            message: e.to_string(),
            field: e.field().map(str::to_owned),
            retry_after_seconds: e
                .retry_after_seconds()
                .map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "CallStatus")]
pub enum WireCallStatus {
    Ringing,
    Answered,
    Ended,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "LogState")]
pub enum WireLogState {
    Pending,
    Ignored,
    Logged,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    pub id: String,
    pub direction: Direction,
    pub peer_number: String,
    pub peer_display_name: Option<String>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub status: WireCallStatus,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub answered_at: Option<i64>,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    pub duration_seconds: u32,
    pub end_reason: Option<WireEndReason>,
    pub end_detail: Option<String>,
    pub log_state: WireLogState,
    /// The CRM record the call is attached to (its id is null while its creation is queued).
    pub record: Option<CallRecordView>,
    pub subject: Option<String>,
    pub comment: Option<String>,
    /// The CRM writes of this call (create the record, log the call) and their state.
    pub crm_writes: Vec<CrmWriteView>,
    /// While an incoming call rings: the cached records that share the caller's number.
    pub caller_matches: Vec<ContactView>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CallRecordView {
    pub crm: CrmKind,
    pub kind: ContactKindView,
    pub id: Option<String>,
    pub name: String,
}

impl From<&CallLog> for CallView {
    fn from(log: &CallLog) -> Self {
        let mut view = CallView::from(&log.call);
        view.record = log.record.as_ref().map(|r| CallRecordView {
            crm: CrmKind::from(r.crm),
            kind: ContactKindView::from(r.kind),
            id: r.id.clone(),
            name: r.name.clone(),
        });
        view.subject = log.subject.clone();
        view.comment = log.comment.clone();
        view.crm_writes = log.writes.iter().map(CrmWriteView::from).collect();
        view
    }
}

impl From<&CallRecord> for CallView {
    fn from(c: &CallRecord) -> Self {
        CallView {
            id: c.id.to_string(),
            direction: match c.direction {
                CallDirection::Incoming => Direction::Incoming,
                CallDirection::Outgoing => Direction::Outgoing,
            },
            peer_number: c.peer_number.clone(),
            peer_display_name: c.peer_display_name.clone(),
            from_number: c.from_number().map(str::to_owned),
            to_number: c.to_number().map(str::to_owned),
            status: match c.status {
                CallStatus::Ringing => WireCallStatus::Ringing,
                CallStatus::Answered => WireCallStatus::Answered,
                CallStatus::Ended => WireCallStatus::Ended,
            },
            started_at: c.started_at.millis(),
            answered_at: c.answered_at.map(|t| t.millis()),
            ended_at: c.ended_at.map(|t| t.millis()),
            duration_seconds: c.duration_seconds(),
            end_reason: c.end_reason.as_ref().map(WireEndReason::from),
            end_detail: c
                .end_reason
                .as_ref()
                .and_then(|r| r.detail())
                .map(str::to_owned),
            log_state: match c.log_state {
                LogState::Pending => WireLogState::Pending,
                LogState::Ignored => WireLogState::Ignored,
                LogState::Logged => WireLogState::Logged,
            },
            record: None,
            subject: None,
            comment: None,
            crm_writes: Vec::new(),
            caller_matches: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CrmKind {
    Salesforce,
    Zoho,
}

impl From<Crm> for CrmKind {
    fn from(c: Crm) -> Self {
        match c {
            Crm::Salesforce => CrmKind::Salesforce,
            Crm::Zoho => CrmKind::Zoho,
        }
    }
}

impl From<CrmKind> for Crm {
    fn from(c: CrmKind) -> Self {
        match c {
            CrmKind::Salesforce => Crm::Salesforce,
            CrmKind::Zoho => Crm::Zoho,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ContactKindView {
    Contact,
    Lead,
}

impl From<ContactKind> for ContactKindView {
    fn from(k: ContactKind) -> Self {
        match k {
            ContactKind::Contact => ContactKindView::Contact,
            ContactKind::Lead => ContactKindView::Lead,
        }
    }
}

impl From<ContactKindView> for ContactKind {
    fn from(k: ContactKindView) -> Self {
        match k {
            ContactKindView::Contact => ContactKind::Contact,
            ContactKindView::Lead => ContactKind::Lead,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    pub crm: CrmKind,
    pub id: String,
    pub kind: ContactKindView,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub company: Option<String>,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        ContactView {
            crm: CrmKind::from(c.crm),
            id: c.crm_id.clone(),
            kind: ContactKindView::from(c.kind),
            name: c.display_name(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            mobile: c.mobile.clone(),
            company: c.company.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CrmWriteKind {
    CreateContact,
    LogCall,
    /// An attended WhatsApp conversation logged with its transcript.
    LogChat,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "OutboxStateView")]
pub enum WireOutboxState {
    Pending,
    Sending,
    Delivered,
    NeedsAttention,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CrmWriteView {
    #[ts(type = "number")]
    pub id: i64,
    pub kind: CrmWriteKind,
    pub state: WireOutboxState,
    pub attempts: u32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub error_field: Option<String>,
    /// For `crm_duplicate`: the existing record the CRM matched (of the write's CRM); the UI
    /// offers to attach the call to it (`crm_write_use_existing`).
    pub existing_record: Option<ExistingRecordView>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExistingRecordView {
    pub kind: ContactKindView,
    pub id: String,
}

impl From<&OutboxEntry> for CrmWriteView {
    fn from(e: &OutboxEntry) -> Self {
        CrmWriteView {
            id: e.id,
            kind: match e.kind {
                OutboxKind::CreateContact => CrmWriteKind::CreateContact,
                OutboxKind::LogCall => CrmWriteKind::LogCall,
                OutboxKind::LogChat => CrmWriteKind::LogChat,
            },
            state: match e.state {
                OutboxState::Pending => WireOutboxState::Pending,
                OutboxState::InFlight => WireOutboxState::Sending,
                OutboxState::Delivered => WireOutboxState::Delivered,
                OutboxState::NeedsAttention => WireOutboxState::NeedsAttention,
            },
            attempts: e.attempts,
            error_code: e.last_error.as_ref().map(|x| x.code.as_str().to_owned()),
            error_message: e.last_error.as_ref().map(|x| x.message.clone()),
            error_field: e.last_error.as_ref().and_then(|x| x.field.clone()),
            existing_record: e
                .last_error
                .as_ref()
                .and_then(|x| x.existing.as_ref())
                .map(|r| ExistingRecordView {
                    kind: ContactKindView::from(r.kind),
                    id: r.id.clone(),
                }),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CrmLinkState {
    Ok,
    NeedsReauth,
    KeyringUnavailable,
    NotLinked,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CrmLinkView {
    pub crm: CrmKind,
    pub linked: bool,
    pub account: Option<String>,
    pub state: CrmLinkState,
    pub detail: Option<String>,
    #[ts(type = "number | null")]
    pub access_expires_at: Option<i64>,
    pub warning: Option<String>,
}

impl From<&CrmLinkStatus> for CrmLinkView {
    fn from(l: &CrmLinkStatus) -> Self {
        CrmLinkView {
            crm: CrmKind::from(l.crm),
            linked: l.state == LinkState::Ok,
            account: l.account.clone(),
            state: match l.state {
                LinkState::Ok => CrmLinkState::Ok,
                LinkState::NeedsReauth => CrmLinkState::NeedsReauth,
                LinkState::KeyringUnavailable => CrmLinkState::KeyringUnavailable,
                LinkState::NotLinked => CrmLinkState::NotLinked,
            },
            detail: l.detail.clone(),
            access_expires_at: l.access_expires_at.map(|t| t.millis()),
            warning: l.warning.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeyringView {
    pub available: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CrmStatusView {
    pub keyring: KeyringView,
    pub links: Vec<CrmLinkView>,
    pub pending_writes: u32,
    pub needs_attention: u32,
}

impl From<&CrmStatus> for CrmStatusView {
    fn from(s: &CrmStatus) -> Self {
        CrmStatusView {
            keyring: KeyringView {
                available: s.keyring.is_ok(),
                detail: s.keyring.clone().err(),
            },
            links: s.links.iter().map(CrmLinkView::from).collect(),
            pending_writes: s.pending_writes,
            needs_attention: s.needs_attention,
        }
    }
}

/// The "Nuevo contacto" form.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NewContactInput {
    pub kind: ContactKindView,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub mobile: String,
    pub company: String,
}

impl From<NewContactInput> for NewContact {
    fn from(i: NewContactInput) -> Self {
        let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        NewContact {
            kind: ContactKind::from(i.kind),
            first_name: opt(i.first_name),
            last_name: i.last_name,
            email: opt(i.email),
            phone: opt(i.phone),
            mobile: opt(i.mobile),
            company: opt(i.company),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SalesforceSettings {
    pub login_host: String,
    pub client_id: String,
    pub redirect_port: u16,
}

/// Zoho's settings as the webview sees them: never the client secret, only whether one is
/// stored in the keyring. `settings_save` takes a new secret as an argument of its own.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ZohoSettings {
    pub accounts_server: String,
    pub client_id: String,
    /// A client secret is stored (ignored when saving).
    pub client_secret_set: bool,
    pub redirect_port: u16,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "EndReason")]
pub enum WireEndReason {
    Completed,
    Busy,
    NoAnswer,
    Rejected,
    LineLost,
    Failed,
}

impl From<&EndReason> for WireEndReason {
    fn from(r: &EndReason) -> Self {
        match r {
            EndReason::Completed => WireEndReason::Completed,
            EndReason::Busy => WireEndReason::Busy,
            EndReason::NoAnswer => WireEndReason::NoAnswer,
            EndReason::Rejected => WireEndReason::Rejected,
            EndReason::LineLost => WireEndReason::LineLost,
            EndReason::Failed(_) => WireEndReason::Failed,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DialKind {
    Number,
    Extension,
}

/// A parsed dial target; also the `enlace dial --dry-run --json` output (with `ok: true`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct DialView {
    pub kind: DialKind,
    pub e164: Option<String>,
    pub extension: Option<String>,
    pub dial: String,
}

impl From<&DialTarget> for DialView {
    fn from(t: &DialTarget) -> Self {
        match t {
            DialTarget::Number { e164, extension } => DialView {
                kind: DialKind::Number,
                e164: Some(e164.clone()),
                extension: extension.clone(),
                dial: t.dial_string().to_owned(),
            },
            DialTarget::Extension(ext) => DialView {
                kind: DialKind::Extension,
                e164: None,
                extension: Some(ext.clone()),
                dial: t.dial_string().to_owned(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "LineKind")]
pub enum WireLineKind {
    Baresip,
    HandOff,
    None,
    /// The organization's PBX through the hub (while logged in; not a Settings choice).
    Hub,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    Online,
    Connecting,
    Offline,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LineStatusView {
    pub kind: WireLineKind,
    pub state: LineState,
    pub detail: Option<String>,
}

impl LineStatusView {
    pub fn new(kind: WireLineKind, status: &LineStatus) -> Self {
        let (state, detail) = match status {
            LineStatus::Online => (LineState::Online, None),
            LineStatus::Connecting => (LineState::Connecting, None),
            LineStatus::Offline { reason } => (LineState::Offline, Some(reason.clone())),
        };
        LineStatusView {
            kind,
            state,
            detail,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BaresipSettings {
    pub ctrl_address: String,
    pub sip_domain: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HandOffMode {
    Uri,
    Program,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandOffSettings {
    pub mode: HandOffMode,
    pub uri_template: String,
    pub program: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "Language")]
pub enum WireLanguage {
    Auto,
    Es,
    En,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub line_kind: WireLineKind,
    pub baresip: BaresipSettings,
    pub hand_off: HandOffSettings,
    pub default_country: String,
    pub language: WireLanguage,
    pub notifications: bool,
    /// Chat notifications also while paused (off: a paused agent is not disturbed).
    #[serde(default)]
    pub chat_notify_while_paused: bool,
    /// Marcar atendido logs the chat's transcript to the CRM.
    #[serde(default)]
    pub chat_log_to_crm: bool,
    /// The microphone Mensaje de audio records from (`None`: the system's default input).
    #[serde(default)]
    pub audio_input_device: Option<String>,
    /// Enviar ubicación's map tiles: a URL with `{z}`, `{x}` and `{y}` (OpenStreetMap's by
    /// default). The app fetches them (with a User-Agent and a disk cache), never the webview.
    #[serde(default)]
    pub map_tile_url: String,
    pub salesforce: SalesforceSettings,
    pub zoho: ZohoSettings,
}

impl From<&Settings> for SettingsView {
    fn from(s: &Settings) -> Self {
        SettingsView {
            line_kind: line_kind(s.line_kind),
            baresip: BaresipSettings {
                ctrl_address: s.baresip_ctrl_address.clone(),
                sip_domain: s.baresip_sip_domain.clone(),
            },
            hand_off: HandOffSettings {
                mode: match s.hand_off_kind {
                    HandOffKind::Uri => HandOffMode::Uri,
                    HandOffKind::Program => HandOffMode::Program,
                },
                uri_template: s.hand_off_uri_template.clone(),
                program: s.hand_off_program.clone(),
            },
            default_country: s.default_country.as_str().to_owned(),
            language: match s.language {
                Language::Auto => WireLanguage::Auto,
                Language::Spanish => WireLanguage::Es,
                Language::English => WireLanguage::En,
            },
            notifications: s.notifications,
            chat_notify_while_paused: s.chat_notify_while_paused,
            chat_log_to_crm: s.chat_log_to_crm,
            audio_input_device: s.audio_input_device.clone(),
            map_tile_url: s.map_tile_url.clone(),
            salesforce: SalesforceSettings {
                login_host: s.salesforce.login_host.clone(),
                client_id: s.salesforce.client_id.clone(),
                redirect_port: s.salesforce.redirect_port,
            },
            zoho: ZohoSettings {
                accounts_server: s.zoho.accounts_server.clone(),
                client_id: s.zoho.client_id.clone(),
                client_secret_set: !s.zoho.client_secret.is_empty(),
                redirect_port: s.zoho.redirect_port,
            },
        }
    }
}

impl SettingsView {
    /// Into domain settings; a bad country is reported on its field. The Zoho client secret
    /// is `client_secret` (the caller passes the stored one to keep it).
    pub fn into_settings(self, client_secret: String) -> Result<Settings, WireError> {
        let default_country =
            Country::parse(self.default_country.trim()).map_err(|_| WireError {
                code: "invalid_setting".to_owned(),
                message: "the country must be two letters, such as CR or MX".to_owned(),
                field: Some("defaultCountry".to_owned()),
                retry_after_seconds: None,
            })?;
        Ok(Settings {
            line_kind: match self.line_kind {
                WireLineKind::Baresip => LineKind::Baresip,
                WireLineKind::HandOff => LineKind::HandOff,
                WireLineKind::None | WireLineKind::Hub => LineKind::None,
            },
            baresip_ctrl_address: self.baresip.ctrl_address.trim().to_owned(),
            baresip_sip_domain: self.baresip.sip_domain.trim().to_owned(),
            hand_off_kind: match self.hand_off.mode {
                HandOffMode::Uri => HandOffKind::Uri,
                HandOffMode::Program => HandOffKind::Program,
            },
            hand_off_uri_template: self.hand_off.uri_template.trim().to_owned(),
            hand_off_program: self.hand_off.program.trim().to_owned(),
            default_country,
            language: match self.language {
                WireLanguage::Auto => Language::Auto,
                WireLanguage::Es => Language::Spanish,
                WireLanguage::En => Language::English,
            },
            notifications: self.notifications,
            chat_notify_while_paused: self.chat_notify_while_paused,
            chat_log_to_crm: self.chat_log_to_crm,
            audio_input_device: self
                .audio_input_device
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            map_tile_url: self.map_tile_url.trim().to_owned(),
            salesforce: SalesforceConfig {
                login_host: self
                    .salesforce
                    .login_host
                    .trim()
                    .trim_end_matches('/')
                    .to_owned(),
                client_id: self.salesforce.client_id.trim().to_owned(),
                redirect_port: self.salesforce.redirect_port,
                ..SalesforceConfig::default()
            },
            zoho: ZohoConfig {
                accounts_server: self
                    .zoho
                    .accounts_server
                    .trim()
                    .trim_end_matches('/')
                    .to_owned(),
                client_id: self.zoho.client_id.trim().to_owned(),
                client_secret,
                redirect_port: self.zoho.redirect_port,
            },
            // Not edited in Settings: the caller keeps the current values.
            hub_server: String::new(),
            hub_user: String::new(),
        })
    }
}

pub fn line_kind(kind: LineKind) -> WireLineKind {
    match kind {
        LineKind::Baresip => WireLineKind::Baresip,
        LineKind::HandOff => WireLineKind::HandOff,
        LineKind::None => WireLineKind::None,
        LineKind::Hub => WireLineKind::Hub,
    }
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AgentStateKind {
    Available,
    Paused,
    OnCall,
    LoggedOut,
}

impl From<hub_client::AgentStateKind> for AgentStateKind {
    fn from(k: hub_client::AgentStateKind) -> Self {
        match k {
            hub_client::AgentStateKind::Available => AgentStateKind::Available,
            hub_client::AgentStateKind::Paused => AgentStateKind::Paused,
            hub_client::AgentStateKind::OnCall => AgentStateKind::OnCall,
            hub_client::AgentStateKind::LoggedOut => AgentStateKind::LoggedOut,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PauseReasonView {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    #[ts(type = "number | null")]
    pub budget_seconds: Option<i64>,
    pub is_exit: bool,
}

impl From<&hub_client::PauseReason> for PauseReasonView {
    fn from(r: &hub_client::PauseReason) -> Self {
        PauseReasonView {
            id: r.id,
            name: r.name.clone(),
            budget_seconds: r.budget_seconds,
            is_exit: r.is_exit,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentStateView {
    pub state: AgentStateKind,
    #[ts(type = "number | null")]
    pub reason_id: Option<i64>,
    pub reason_name: Option<String>,
    #[ts(type = "number")]
    pub since: i64,
    #[ts(type = "number | null")]
    pub budget_seconds: Option<i64>,
    pub over_budget: bool,
}

impl AgentStateView {
    pub fn new(s: &hub_client::AgentState, over_budget: bool) -> Self {
        AgentStateView {
            state: AgentStateKind::from(s.kind),
            reason_id: s.reason.as_ref().map(|r| r.id),
            reason_name: s.reason.as_ref().map(|r| r.name.clone()),
            since: s.since,
            budget_seconds: s.reason.as_ref().and_then(|r| r.budget_seconds),
            over_budget,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HubAgentView {
    pub user: String,
    pub name: String,
    pub extension: String,
    pub supervisor: bool,
}

impl From<&hub_client::Agent> for HubAgentView {
    fn from(a: &hub_client::Agent) -> Self {
        HubAgentView {
            user: a.user.clone(),
            name: a.name.clone(),
            extension: a.extension.clone(),
            supervisor: a.supervisor,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HubStatusView {
    pub server: Option<String>,
    pub logged_in: bool,
    pub agent: Option<HubAgentView>,
    pub state: Option<AgentStateView>,
    pub stream_online: bool,
    pub detail: Option<String>,
    /// ms since the epoch: the stream had lost events the hub no longer kept, and the agent's
    /// state was read again then. The UI reads the day and the calls again and says so.
    #[ts(type = "number | null")]
    pub resynced_at: Option<i64>,
}

impl HubStatusView {
    pub fn new(s: &enlace_app::HubStatus, over_budget: bool) -> Self {
        HubStatusView {
            server: s.server.clone(),
            logged_in: s.agent.is_some(),
            agent: s.agent.as_ref().map(HubAgentView::from),
            state: s
                .state
                .as_ref()
                .map(|st| AgentStateView::new(st, over_budget)),
            stream_online: s.stream_online,
            detail: s.detail.clone(),
            resynced_at: s.resynced_at.map(|t| t.millis()),
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExitCheckView {
    pub pending_calls: u32,
    pub pending_writes: u32,
    /// Open chats assigned to the agent (Salida offers to hand them back to the queue).
    pub chats: Vec<inbox::ExitChatView>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DayPauseView {
    pub reason_name: String,
    #[ts(type = "number")]
    pub seconds: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DayView {
    pub calls_in: u32,
    pub calls_out: u32,
    #[ts(type = "number")]
    pub talk_seconds: i64,
    pub pauses: Vec<DayPauseView>,
}

impl From<&hub_client::DaySummary> for DayView {
    fn from(d: &hub_client::DaySummary) -> Self {
        DayView {
            calls_in: d.calls_in,
            calls_out: d.calls_out,
            talk_seconds: d.talk_seconds,
            pauses: d
                .pauses
                .iter()
                .map(|p| DayPauseView {
                    reason_name: p.reason.name.clone(),
                    seconds: p.seconds,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentLiveView {
    pub user: String,
    pub name: String,
    pub extension: String,
    pub state: AgentStateKind,
    pub reason_name: Option<String>,
    #[ts(type = "number")]
    pub since: i64,
}

impl From<&hub_client::AgentLive> for AgentLiveView {
    fn from(a: &hub_client::AgentLive) -> Self {
        AgentLiveView {
            user: a.agent.user.clone(),
            name: a.agent.name.clone(),
            extension: a.agent.extension.clone(),
            state: AgentStateKind::from(a.state.kind),
            reason_name: a.state.reason.as_ref().map(|r| r.name.clone()),
            since: a.state.since,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandlerScheme {
    pub scheme: String,
    pub registered: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandlerStatusView {
    pub schemes: Vec<HandlerScheme>,
    pub can_register: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Dev,
    Release,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfoView {
    pub version: String,
    pub channel: Channel,
    pub data_dir: String,
    pub os_locale: String,
    /// Problems found at start-up (storage, settings), already explained; empty when healthy.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NavigateView {
    pub panel: String,
    /// `panel` = `inbox`: the conversation to open.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub conversation_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn export_all(dir: &Path) {
        let cfg = ts_rs::Config::new().with_out_dir(dir);
        macro_rules! export {
            ($($t:ty),* $(,)?) => { $( <$t as TS>::export_all(&cfg).expect("export"); )* };
        }
        export!(
            WireError,
            CallView,
            DialView,
            LineStatusView,
            SettingsView,
            HandlerStatusView,
            AppInfoView,
            NavigateView,
            CrmStatusView,
            ContactView,
            NewContactInput,
            HubStatusView,
            PauseReasonView,
            ExitCheckView,
            DayView,
            AgentLiveView,
            ConversationView,
            ChatPageView,
            OutgoingMessageInput,
            TemplateView,
            CannedResponseView,
            BusinessNumberView,
            InboxCountsView,
            InboxMessageEvent,
            InboxFilter,
            StagedFileView,
            RecordingStatusView,
            AudioInputView,
            QuickAddressView,
            PositionView,
            UploadProgressEvent
        );
    }

    fn read_dir(dir: &Path) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).expect("bindings dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "ts") {
                let name = path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, std::fs::read_to_string(&path).expect("read"));
            }
        }
        files
    }

    #[test]
    fn the_webview_learns_only_whether_a_zoho_client_secret_is_set() {
        let mut settings = Settings::default();
        settings.zoho.client_secret = "zoho-secret-in-memory".into();
        let json = serde_json::to_string(&SettingsView::from(&settings)).unwrap();
        assert!(!json.contains("zoho-secret-in-memory"), "{json}");
        assert!(json.contains(r#""clientSecretSet":true"#), "{json}");
        let back: SettingsView = serde_json::from_str(&json).unwrap();
        let saved = back.into_settings("the stored one".into()).unwrap();
        assert_eq!(saved.zoho.client_secret, "the stored one");
        settings.zoho.client_secret.clear();
        let json = serde_json::to_string(&SettingsView::from(&settings)).unwrap();
        assert!(json.contains(r#""clientSecretSet":false"#), "{json}");
    }

    /// The committed TypeScript bindings must equal what the Rust types generate.
    #[test]
    fn bindings_are_current() {
        let committed: PathBuf =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/platform/bindings");
        if std::env::var_os("ENLACE_UPDATE_BINDINGS").is_some() {
            if committed.exists() {
                std::fs::remove_dir_all(&committed).expect("clear bindings");
            }
            export_all(&committed);
        }
        let fresh = tempfile::tempdir().expect("tempdir");
        export_all(fresh.path());
        let want = read_dir(fresh.path());
        let have = read_dir(&committed);
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            have.keys().collect::<Vec<_>>(),
            "binding files differ; run ENLACE_UPDATE_BINDINGS=1 cargo test -p enlace-desktop bindings"
        );
        for (name, text) in &want {
            assert_eq!(
                Some(text),
                have.get(name),
                "{name} is out of date; run ENLACE_UPDATE_BINDINGS=1 cargo test -p enlace-desktop bindings"
            );
        }
    }
}

#[cfg(test)]
mod translations {
    use std::path::Path;

    /// Every error code the UI can receive has a translated text in both languages.
    #[test]
    fn every_error_code_is_translated() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/i18n");
        for lang in ["es.ts", "en.ts"] {
            let text = std::fs::read_to_string(dir.join(lang)).expect("dictionary");
            for code in enlace_core::ErrorCode::ALL {
                let key = format!("'errors.{}'", code.as_str());
                assert!(text.contains(&key), "{lang} has no text for {key}");
            }
        }
    }
}
