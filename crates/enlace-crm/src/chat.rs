//! A WhatsApp conversation logged as a CRM activity when the agent marks it attended: what it
//! carries ([`ChatActivity`]) and the provider-neutral text of it (subject, and the transcript
//! cut to a field's limit with the key marker at the end).
//!
//! Where it lands: on a Contact or Lead when one is known — Salesforce a Task (subtype Task) with
//! `WhoId`, Zoho a Note on the record — and without one a Salesforce Task without `WhoId` or a
//! Zoho Call without `Who_Id` (a Zoho Note needs a parent). See `salesforce.rs` / `zoho.rs`.

use enlace_core::{RecordRef, Timestamp};

use crate::input::key_marker;

/// One conversation to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatActivity {
    /// The Contact or Lead it goes on; `None` when the customer's number matches no record.
    pub record: Option<RecordRef>,
    /// The customer's number, E.164.
    pub customer: String,
    /// The customer's name as the CRM or WhatsApp knows it, if any.
    pub customer_name: Option<String>,
    /// The first and the last message of the conversation.
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// One line per message, `[dd/mm/yyyy HH:MM] Cliente|Agente: text`, oldest first (a
    /// message's own line breaks continue on the next lines).
    pub transcript: String,
}

impl ChatActivity {
    /// `WhatsApp {customer}`, at most `max` characters.
    pub(crate) fn subject(&self, max: usize) -> String {
        format!("WhatsApp {}", self.customer.trim())
            .chars()
            .take(max)
            .collect()
    }

    /// How long the conversation lasted, in whole seconds (0 when the times are reversed).
    pub(crate) fn duration_seconds(&self) -> u32 {
        let millis = self
            .ended_at
            .millis()
            .saturating_sub(self.started_at.millis());
        u32::try_from(millis.max(0) / 1000).unwrap_or(u32::MAX)
    }
}

/// One message of a conversation, for [`format_transcript`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    /// When it was sent, milliseconds since the Unix epoch (UTC).
    pub at: i64,
    /// The customer wrote it; otherwise an agent did.
    pub from_customer: bool,
    /// Its text (a caption or a short description for media).
    pub text: String,
}

/// A transcript for [`ChatActivity::transcript`]: one line per message,
/// `[dd/mm/yyyy HH:MM] Cliente: text` or `… Agente: text`, at `utc_offset_minutes` from UTC
/// (the agent's time zone; 0 for UTC), in the order given. A message's own line breaks
/// continue on lines indented by two spaces, so only a message's first line starts with `[`;
/// carriage returns and other control characters but tabs are dropped.
pub fn format_transcript(lines: &[TranscriptLine], utc_offset_minutes: i32) -> String {
    let mut out = String::new();
    for line in lines {
        let at = Timestamp(
            line.at
                .saturating_add(i64::from(utc_offset_minutes).saturating_mul(60_000)),
        );
        let t = crate::dates::utc(at);
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "[{:02}/{:02}/{:04} {:02}:{:02}] {}: ",
            t.day,
            t.month,
            t.year,
            t.hour,
            t.minute,
            if line.from_customer {
                "Cliente"
            } else {
                "Agente"
            }
        ));
        let clean: String = line
            .text
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        let mut parts = clean.trim().split('\n');
        out.push_str(parts.next().unwrap_or_default().trim_end());
        for part in parts {
            out.push_str("\n  ");
            out.push_str(part.trim_end());
        }
    }
    out
}

/// The longest text field a transcript goes into, in characters: Salesforce Task
/// `Description` (api-facts A8) and, taken as the same, Zoho `Note_Content` and Call
/// `Description` (their limit is not in the fact sheet).
pub(crate) const TRANSCRIPT_FIELD_MAX: usize = 32_000;

/// The transcript with the write's key marker on a line of its own at the end, the whole within
/// `max` characters. A transcript that does not fit loses its oldest messages (whole messages:
/// a line that starts with `[` and a digit starts one), and a first line says how many were
/// left out; a last message longer than the field keeps its end.
pub(crate) fn transcript_with_marker(transcript: &str, key: &str, max: usize) -> String {
    let marker = key_marker(key);
    let text = transcript.trim_end();
    if text.trim().is_empty() {
        return marker;
    }
    let suffix_len = marker.chars().count() + 2;
    if text.chars().count() + suffix_len <= max {
        return format!("{text}\n\n{marker}");
    }
    let messages = split_messages(text);
    let lengths: Vec<usize> = messages.iter().map(|m| m.chars().count()).collect();
    // Characters of messages[n..] joined by newlines.
    let mut tail_len = vec![0usize; messages.len() + 1];
    for i in (0..messages.len()).rev() {
        let sep = usize::from(i + 1 < messages.len());
        tail_len[i] = lengths[i] + sep + tail_len[i + 1];
    }
    for dropped in 1..messages.len() {
        let notice = cut_notice(dropped, max);
        if notice.chars().count() + 1 + tail_len[dropped] + suffix_len <= max {
            return format!("{notice}\n{}\n\n{marker}", messages[dropped..].join("\n"));
        }
    }
    // Even the newest message alone is too long: its end.
    let dropped = messages.len().saturating_sub(1);
    let notice = cut_notice(dropped, max);
    let last = messages.last().copied().unwrap_or_default();
    let room = max.saturating_sub(notice.chars().count() + 2 + suffix_len);
    let skip = last.chars().count().saturating_sub(room);
    let end: String = last.chars().skip(skip).collect();
    format!("{notice}\n…{end}\n\n{marker}")
        .chars()
        .take(max)
        .collect()
}

/// The first line of a cut transcript.
fn cut_notice(dropped: usize, max: usize) -> String {
    format!(
        "[Transcripción recortada al límite de {max} caracteres del CRM: se omitieron los \
         {dropped} mensajes más antiguos]"
    )
}

/// The transcript's messages: each starts at a line `[` + digit (`[dd/mm/yyyy HH:MM] …`); lines
/// before the first such line belong to the first message.
fn split_messages(text: &str) -> Vec<&str> {
    let mut starts = vec![0usize];
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let mut chars = line.chars();
        if offset > 0
            && chars.next() == Some('[')
            && chars.next().is_some_and(|c| c.is_ascii_digit())
        {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());
    starts
        .windows(2)
        .filter_map(|w| text.get(w[0]..w[1]))
        .map(|m| m.trim_end_matches(['\n', '\r']))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(n: usize) -> String {
        (0..n)
            .map(|i| format!("[05/12/2026 10:{:02}] Cliente: mensaje número {i}", i % 60))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_short_transcript_is_kept_whole_with_the_marker_last() {
        let t = "[05/12/2026 10:00] Cliente: Hola\n[05/12/2026 10:01] Agente: Buenos días\n";
        assert_eq!(
            transcript_with_marker(t, "enl-1", 32_000),
            "[05/12/2026 10:00] Cliente: Hola\n[05/12/2026 10:01] Agente: Buenos días\n\n\
             [enlace:enl-1]"
        );
        assert_eq!(
            transcript_with_marker(" \n", "enl-1", 100),
            "[enlace:enl-1]"
        );
    }

    #[test]
    fn a_long_transcript_keeps_the_newest_whole_messages_and_says_it_was_cut() {
        let t = transcript(2_000);
        let cut = transcript_with_marker(&t, "enl-7", 32_000);
        assert!(cut.chars().count() <= 32_000, "{}", cut.chars().count());
        assert!(
            cut.starts_with("[Transcripción recortada"),
            "{}",
            &cut[..120]
        );
        assert!(cut.ends_with("mensaje número 1999\n\n[enlace:enl-7]"));
        // Whole messages only: the line after the notice is a message's first line.
        let first = cut.lines().nth(1).unwrap_or_default();
        assert!(first.starts_with("[05/12/2026 10:"), "{first}");
        let dropped: usize = cut
            .split("omitieron los ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default();
        let kept = cut.lines().filter(|l| l.contains("Cliente:")).count();
        assert_eq!(dropped + kept, 2_000);
        // It fills the field: one more message would not fit.
        assert!(cut.chars().count() > 32_000 - 60);
    }

    #[test]
    fn multi_line_messages_stay_together_and_a_huge_last_message_keeps_its_end() {
        let t = "[05/12/2026 10:00] Cliente: uno\ndos\n[05/12/2026 10:01] Agente: tres\ncuatro";
        assert_eq!(
            split_messages(t),
            vec![
                "[05/12/2026 10:00] Cliente: uno\ndos",
                "[05/12/2026 10:01] Agente: tres\ncuatro"
            ]
        );
        let huge = format!(
            "[05/12/2026 10:00] Cliente: hola\n[05/12/2026 10:01] Cliente: {}fin",
            "ñ".repeat(500)
        );
        let cut = transcript_with_marker(&huge, "k", 300);
        assert_eq!(cut.chars().count(), 300);
        assert!(cut.ends_with("ñfin\n\n[enlace:k]"), "{cut}");
        assert!(cut.contains("omitieron los 1 mensajes"), "{cut}");
    }

    #[test]
    fn transcripts_are_formatted_one_message_per_line_in_the_given_time_zone() {
        let lines = [
            TranscriptLine {
                // 2026-12-05T16:03:00Z
                at: 1_796_486_580_000,
                from_customer: true,
                text: "Hola\r\n[05/12] ¿sigue abierto?\u{7}".into(),
            },
            TranscriptLine {
                at: 1_796_486_700_000,
                from_customer: false,
                text: "  Sí, hasta las 6 👍 ".into(),
            },
        ];
        assert_eq!(
            format_transcript(&lines, 0),
            "[05/12/2026 16:03] Cliente: Hola\n  [05/12] ¿sigue abierto?\n\
             [05/12/2026 16:05] Agente: Sí, hasta las 6 👍"
        );
        // Costa Rica (UTC−6) the same afternoon; the previous day past midnight UTC.
        assert!(format_transcript(&lines, -360).starts_with("[05/12/2026 10:03] Cliente:"));
        assert!(format_transcript(&lines, -17 * 60).starts_with("[04/12/2026 23:03]"));
        // Continuation lines never start a message when the transcript is cut.
        assert_eq!(split_messages(&format_transcript(&lines, 0)).len(), 2);
        assert_eq!(format_transcript(&[], 0), "");
    }

    #[test]
    fn subject_and_duration() {
        let chat = ChatActivity {
            record: None,
            customer: " +50688881234 ".into(),
            customer_name: None,
            started_at: Timestamp(1_000_000),
            ended_at: Timestamp(1_125_999),
            transcript: String::new(),
        };
        assert_eq!(chat.subject(255), "WhatsApp +50688881234");
        assert_eq!(chat.subject(8), "WhatsApp");
        assert_eq!(chat.duration_seconds(), 125);
        let reversed = ChatActivity {
            ended_at: Timestamp(0),
            ..chat
        };
        assert_eq!(reversed.duration_seconds(), 0);
    }
}
