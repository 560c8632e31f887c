//! Request and response bodies of the hub's HTTP routes.
