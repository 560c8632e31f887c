//! Media kept by the hub: inbound files are downloaded once (Meta keeps them 7 days), checked
//! against their SHA-256 and written through the `object_store` crate — a local folder
//! (`whatsapp.media_dir`, one instance) or S3-compatible storage (`[whatsapp.s3]`, several
//! instances) — never into database rows; agents' uploads are checked against api-facts C4
//! (type, size, content) before they are stored, and uploaded to Meta when first sent. A file
//! is named by its hub media id (random hex), so no name from outside reaches the storage.

use std::sync::Arc;

use enlace_whatsapp::{check_upload, MediaKind};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use crate::config::WhatsAppSettings;

use crate::error::HubError;
use crate::store::MediaRow;
use crate::Hub;

use super::WaError;

/// Wait between two downloads of the same missing file.
pub const MEDIA_RETRY_MS: i64 = 30_000;

fn new_media_id() -> Result<String, HubError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| HubError::Internal(format!("random: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn is_media_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|x| format!("{x:02x}")).collect()
}

/// The media storage of `settings`: S3 when `[whatsapp.s3]` is set, else the local folder
/// (created if missing).
pub(crate) fn open_media_store(
    settings: &WhatsAppSettings,
) -> Result<Arc<dyn ObjectStore>, HubError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        HubError::Internal(format!("whatsapp media storage ({what}): {e}"))
    };
    if let Some(s3) = &settings.s3 {
        let region = if s3.region.is_empty() {
            "us-east-1"
        } else {
            s3.region.as_str()
        };
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(s3.endpoint.clone())
            .with_allow_http(s3.endpoint.starts_with("http://"))
            .with_bucket_name(s3.bucket.clone())
            .with_region(region)
            .with_access_key_id(s3.access_key_id.clone())
            .with_secret_access_key(s3.secret_access_key.clone())
            .build()
            .map_err(|e| fail("s3", &e))?;
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&settings.media_dir).map_err(|e| fail("folder", &e))?;
    let local = object_store::local::LocalFileSystem::new_with_prefix(&settings.media_dir)
        .map_err(|e| fail("folder", &e))?;
    Ok(Arc::new(local))
}

impl Hub {
    fn wa_media_store(&self) -> Result<&Arc<dyn ObjectStore>, HubError> {
        self.wa()
            .media
            .as_ref()
            .ok_or_else(|| HubError::Internal("no media storage".into()))
    }

    async fn wa_put_media(
        &self,
        bytes: &[u8],
        mime: &str,
        filename: Option<&str>,
        wa_media_id: Option<&str>,
    ) -> Result<MediaRow, HubError> {
        let id = new_media_id()?;
        self.wa_media_store()?
            .put(
                &ObjectPath::from(id.as_str()),
                PutPayload::from(bytes.to_vec()),
            )
            .await
            .map_err(|e| HubError::Internal(format!("media write: {e}")))?;
        let row = MediaRow {
            id,
            mime_type: mime.to_owned(),
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: hex(&Sha256::digest(bytes)),
            filename: filename.map(str::to_owned),
            wa_media_id: wa_media_id.map(str::to_owned),
            created_at: self.now(),
        };
        self.store().insert_wa_media(&row).await?;
        Ok(row)
    }

    /// Downloads an inbound message's media once, checks its hash and keeps it.
    pub(crate) async fn wa_keep_inbound_media(
        &self,
        message_id: i64,
        kind: &enlace_whatsapp::webhook::MessageKind,
    ) -> Result<(), HubError> {
        let Some(media) = kind.media() else {
            return Ok(());
        };
        // A document's name as the customer sent it (shown and offered when saving).
        let filename = match kind {
            enlace_whatsapp::webhook::MessageKind::Document { filename, .. } => filename.as_deref(),
            _ => None,
        };
        let Some(graph) = self.wa().graph.clone() else {
            return Ok(());
        };
        let file = graph
            .download_media(&media.id, media.sha256.as_deref())
            .await
            .map_err(|e| HubError::Internal(format!("media download: {}", e.code())))?;
        let mime = file
            .mime_type
            .clone()
            .or_else(|| media.mime_type.clone())
            .unwrap_or_else(|| "application/octet-stream".into());
        let row = self
            .wa_put_media(&file.bytes, &mime, filename, Some(&media.id))
            .await?;
        self.store()
            .set_wa_message_media(message_id, &row.id)
            .await?;
        Ok(())
    }

    /// Fetches again the customers' files a first download missed (Meta unreachable), while
    /// Meta still has them (7 days); each at most every [`MEDIA_RETRY_MS`]. The worker calls it.
    pub async fn wa_retry_inbound_media(&self) -> Result<usize, HubError> {
        let now = self.now();
        let week = 7 * 86_400_000;
        let mut kept = 0;
        for message in self
            .store()
            .wa_media_missing(now.saturating_sub(week), 20)
            .await?
        {
            {
                let mut tries = self
                    .wa()
                    .media_retries
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // The first download has just failed: the next try waits too.
                let next = tries
                    .entry(message.id)
                    .or_insert(now.saturating_add(MEDIA_RETRY_MS));
                if now < *next {
                    continue;
                }
                *next = now.saturating_add(MEDIA_RETRY_MS);
            }
            let raw: serde_json::Value = match serde_json::from_str(&message.content) {
                Ok(v) => v,
                Err(_) => continue,
            };
            let Ok(parsed) = enlace_whatsapp::webhook::parse_message(&raw) else {
                continue;
            };
            if parsed.kind.media().is_none() {
                continue;
            }
            match self.wa_keep_inbound_media(message.id, &parsed.kind).await {
                Ok(()) => {
                    kept += 1;
                    self.wa()
                        .media_retries
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&message.id);
                }
                Err(e) => tracing::debug!(error = %e, "whatsapp: media still not downloaded"),
            }
        }
        Ok(kept)
    }

    /// An agent's upload: checked (C4) and kept; returns its record.
    pub async fn wa_upload_media(
        &self,
        kind: &str,
        mime: &str,
        filename: Option<&str>,
        bytes: &[u8],
    ) -> Result<MediaRow, WaError> {
        if self.wa().settings.is_none() {
            return Err(WaError::NotConfigured);
        }
        let kind = match kind {
            "image" => MediaKind::Image,
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "document" => MediaKind::Document,
            "sticker" => MediaKind::Sticker,
            _ => {
                return Err(WaError::Invalid {
                    message: "kind must be image, audio, video, document or sticker".into(),
                })
            }
        };
        check_upload(kind, mime, bytes).map_err(WaError::Media)?;
        Ok(self.wa_put_media(bytes, mime, filename, None).await?)
    }

    /// The bytes and record of a hub media.
    pub async fn wa_read_media(&self, id: &str) -> Result<(MediaRow, Vec<u8>), HubError> {
        let row = if is_media_id(id) {
            self.store().wa_media(id).await?
        } else {
            None
        };
        let row = row.ok_or_else(|| HubError::NotFound("media".into()))?;
        let read = self
            .wa_media_store()?
            .get(&ObjectPath::from(row.id.as_str()))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => HubError::NotFound("media file".into()),
                other => HubError::Internal(format!("media read: {other}")),
            })?;
        let bytes = read
            .bytes()
            .await
            .map_err(|e| HubError::Internal(format!("media read: {e}")))?;
        Ok((row, bytes.to_vec()))
    }

    /// The WhatsApp media id to send a hub media with (uploaded to Meta the first time).
    pub(crate) async fn wa_media_for_send(
        &self,
        phone_number_id: &str,
        id: &str,
    ) -> Result<String, enlace_whatsapp::WhatsAppError> {
        let bad = |detail: &str| enlace_whatsapp::WhatsAppError::BadReply {
            detail: detail.to_owned(),
        };
        let (row, bytes) = self
            .wa_read_media(id)
            .await
            .map_err(|_| bad("the media file is gone"))?;
        if let Some(remote) = &row.wa_media_id {
            return Ok(remote.clone());
        }
        let graph = self
            .wa()
            .graph
            .clone()
            .ok_or_else(|| bad("no access token"))?;
        let kind = MediaKind::for_mime(&row.mime_type).unwrap_or(MediaKind::Document);
        let remote = graph
            .upload_media(
                phone_number_id,
                kind,
                &row.mime_type,
                row.filename.as_deref().unwrap_or("file"),
                bytes,
            )
            .await?;
        if let Err(e) = self.store().set_wa_media_remote(&row.id, &remote).await {
            tracing::warn!(error = %e, "whatsapp: media id not recorded");
        }
        Ok(remote)
    }
}
