//! `ApiErrorCode`: the stable codes of the hub's error replies.
