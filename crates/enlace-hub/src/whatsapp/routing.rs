//! Who serves a conversation. A new conversation, one reopened by the customer after
//! "attended", or one still unassigned goes to an agent of the number's queue who is available
//! (or on a call: logged in and not paused) and has fewer than `max_open_per_agent` open
//! conversations: the agent who served the customer last when eligible, otherwise the one with
//! the fewest open conversations (then the lowest id). Paused, logged-out and disabled agents
//! get none; without an eligible agent the conversation stays unassigned, visible to the
//! queue's agents (who can take it) and to supervisors (who can reassign it).

use enlace_hub_api::whatsapp as wire;
use enlace_hub_api::HubEvent;

use crate::error::HubError;
use crate::store::{ConversationRow, RoutingCandidate};
use crate::Hub;

impl Hub {
    /// Reopens an attended conversation and routes an unassigned one; returns it as it is now.
    pub(crate) async fn wa_route_if_needed(
        &self,
        conversation_id: i64,
    ) -> Result<ConversationRow, HubError> {
        let conversation = self
            .store()
            .wa_conversation(conversation_id)
            .await?
            .ok_or_else(|| HubError::NotFound("conversation".into()))?;
        let reopened = conversation.state != "open";
        if !reopened && conversation.agent_id.is_some() {
            return Ok(conversation);
        }
        let chosen = self.wa_choose_agent(&conversation).await?;
        self.store()
            .set_wa_conversation(conversation.id, "open", chosen)
            .await?;
        let updated = self
            .store()
            .wa_conversation(conversation.id)
            .await?
            .ok_or_else(|| HubError::NotFound("conversation".into()))?;
        if chosen.is_some() {
            self.wa_assigned_event(&updated, None).await?;
        }
        Ok(updated)
    }

    /// The agent a conversation goes to, if any is eligible.
    pub(crate) async fn wa_choose_agent(
        &self,
        conversation: &ConversationRow,
    ) -> Result<Option<i64>, HubError> {
        self.wa_choose_agent_except(conversation, None).await
    }

    /// [`Hub::wa_choose_agent`] among the eligible agents other than `except`.
    pub(crate) async fn wa_choose_agent_except(
        &self,
        conversation: &ConversationRow,
        except: Option<i64>,
    ) -> Result<Option<i64>, HubError> {
        if conversation.queue.is_empty() {
            return Ok(None);
        }
        let cap = self
            .wa()
            .settings
            .as_ref()
            .map_or(10, |s| i64::from(s.max_open_per_agent));
        // One query for the whole queue (states, pause reasons, open counts).
        let eligible: Vec<(i64, i64)> = self
            .store()
            .wa_queue_candidates(&conversation.queue)
            .await?
            .into_iter()
            .filter(|c| Some(c.agent_id) != except && c.open < cap && takes_conversations(c))
            .map(|c| (c.open, c.agent_id))
            .collect();
        let mut eligible = eligible;
        if let Some(last) = conversation.last_agent_id {
            if eligible.iter().any(|(_, id)| *id == last) {
                return Ok(Some(last));
            }
        }
        eligible.sort();
        Ok(eligible.first().map(|(_, id)| *id))
    }

    /// Gives waiting (unassigned) conversations to agents who became eligible since (back from
    /// a pause, logged in, under their cap again). The worker calls it.
    pub async fn wa_route_waiting(&self) -> Result<usize, HubError> {
        let mut routed = 0;
        for conversation in self.store().wa_unassigned_open(100).await? {
            let Some(agent) = self.wa_choose_agent(&conversation).await? else {
                continue;
            };
            if self
                .store()
                .take_wa_conversation(conversation.id, agent)
                .await?
            {
                if let Some(updated) = self.store().wa_conversation(conversation.id).await? {
                    self.wa_assigned_event(&updated, None).await?;
                }
                routed += 1;
            }
        }
        Ok(routed)
    }

    /// `conversation_assigned` to the new agent (and to the previous one, who loses it).
    pub(crate) async fn wa_assigned_event(
        &self,
        conversation: &ConversationRow,
        previous: Option<i64>,
    ) -> Result<(), HubError> {
        let now = self.now();
        let event = HubEvent::ConversationAssigned(wire::ConversationAssigned {
            conversation: self.wa_view(conversation).await?,
            previous_agent_id: previous,
        });
        // Whoever sees the conversation now, and the agent who lost it (once).
        let mut targets = match conversation.agent_id {
            Some(agent) => vec![agent],
            None => self.store().queue_agent_ids(&conversation.queue).await?,
        };
        if let Some(prev) = previous.filter(|p| !targets.contains(p)) {
            targets.push(prev);
        }
        self.events()
            .append_event_to_each(&targets, &event, now)
            .await?;
        Ok(())
    }
}

/// Available or on a call, as `Hub::agent_state` reads the log: a pause whose reason no longer
/// exists counts as available; a pause without a reason (made on the phone) does not.
fn takes_conversations(c: &RoutingCandidate) -> bool {
    match c.state.as_deref() {
        Some("available") | Some("on_call") => true,
        Some("paused") => c.reason_id.is_some() && !c.reason_exists,
        _ => false,
    }
}
