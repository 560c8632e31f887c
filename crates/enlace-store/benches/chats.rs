//! The inbox cache at benchmark size: the panel with 500 open conversations (each with a few
//! messages, one with a pending send), a page of 100 messages of a 5,000-message conversation
//! (newest and deep in history), the badge counts, and storing one incoming message.
//!
//! Run: `cargo bench -p enlace-store --bench chats -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use std::hint::black_box;

use criterion::Criterion;
use enlace_store::{ChatConversationFacts, ChatFilter, ChatMessage, ChatState, ChatStatus, Store};

const CONVERSATIONS: i64 = 500;
const LONG: i64 = 5_000;

fn message(hub_id: i64, conversation: i64, text: String) -> ChatMessage {
    ChatMessage {
        seq: 0,
        hub_id: Some(hub_id),
        client_id: None,
        conversation_id: conversation,
        wamid: Some(format!("wamid.{hub_id}")),
        outgoing: hub_id % 3 == 0,
        kind: "text".into(),
        text: Some(text.clone()),
        content: format!(r#"{{"text":{{"body":"{text}"}}}}"#),
        media_id: None,
        reply_to: None,
        status: if hub_id % 3 == 0 {
            ChatStatus::Read
        } else {
            ChatStatus::Received
        },
        error: None,
        agent_id: None,
        at: 1_767_225_600_000 + hub_id * 1000,
    }
}

fn filled(dir: &std::path::Path) -> Store {
    let store = Store::open(&dir.join("chats.sqlite3")).unwrap();
    let mut hub_id = 0;
    for id in 1..=CONVERSATIONS {
        store
            .upsert_chat_conversation(&ChatConversationFacts {
                id,
                phone_number_id: "106540352242922".into(),
                business_number: "+506 4000 4000".into(),
                wa_id: format!("5068{:07}", 1_000_000 + id),
                profile_name: format!("Cliente {id}"),
                queue: "ventas".into(),
                state: ChatState::Open,
                agent_id: (id % 2 == 0).then_some(7),
                agent_name: (id % 2 == 0).then(|| "Ana".to_owned()),
                mine: id % 2 == 0,
                unread: u32::try_from(id % 4).unwrap(),
                last_message_at: 1_767_225_600_000 + id,
                window_ends_at: Some(1_767_225_600_000 + 86_400_000),
                facts_at: 0,
            })
            .unwrap();
        let count = if id == 1 { LONG } else { 4 };
        let batch: Vec<ChatMessage> = (0..count)
            .map(|n| {
                hub_id += 1;
                message(hub_id, id, format!("mensaje {n} de {id}"))
            })
            .collect();
        store.upsert_chat_messages(&batch).unwrap();
        if id % 50 == 0 {
            let pending = ChatMessage {
                hub_id: None,
                client_id: Some(format!("c-{id}")),
                status: ChatStatus::Pending,
                ..message(0, id, "pendiente".into())
            };
            store.queue_chat_send(&pending, "{}").unwrap();
        }
    }
    store.chat_page_synced(1, None, Some(1), true).unwrap();
    store
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("chats: panel, 500 open conversations", |b| {
        b.iter(|| {
            let list = store.chat_conversations(ChatFilter::Queues, "").unwrap();
            assert_eq!(list.len(), 500);
            black_box(list)
        })
    });
    c.bench_function("chats: panel search (name)", |b| {
        b.iter(|| {
            black_box(
                store
                    .chat_conversations(ChatFilter::Queues, "cliente 49")
                    .unwrap(),
            )
        })
    });
    c.bench_function("chats: newest 100 of 5,000 messages", |b| {
        b.iter(|| {
            let page = store.chat_page(1, None, 100).unwrap();
            assert!(page.complete);
            black_box(page)
        })
    });
    c.bench_function("chats: 100 messages deep in 5,000", |b| {
        b.iter(|| black_box(store.chat_page(1, Some(200), 100).unwrap()))
    });
    c.bench_function("chats: badge counts", |b| {
        b.iter(|| black_box(store.chat_counts().unwrap()))
    });
    let mut next = 1_000_000;
    c.bench_function("chats: store one incoming message", |b| {
        b.iter(|| {
            next += 1;
            black_box(
                store
                    .upsert_chat_message(&message(next, 2, "hola".into()))
                    .unwrap(),
            )
        })
    });
    c.final_summary();
}
