//! `HubEvent`: the events of the agent stream.
