//! The session-bus side (Linux/BSD): serving `org.freedesktop.Application` and calling it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zbus::{block_on, fdo, Connection, OwnedVariant, Variant};

use crate::{
    object_path, sanitize_uris, token_from_platform_data, ActivationError, OnRequest, Request,
    Service, INTERFACE,
};

struct Application {
    on_request: OnRequest,
}

/// `a{sv}` platform data, with only its string entries kept.
fn strings(data: &HashMap<String, OwnedVariant>) -> HashMap<String, String> {
    data.iter()
        .filter_map(|(k, v)| {
            let text: &str = v.downcast_ref().ok()?;
            Some((k.clone(), text.to_owned()))
        })
        .collect()
}

#[zbus::interface(name = "org.freedesktop.Application")]
impl Application {
    fn activate(&self, platform_data: HashMap<String, OwnedVariant>) {
        let token = token_from_platform_data(&strings(&platform_data));
        (self.on_request)(Request::Activate { token });
    }

    fn open(&self, uris: Vec<String>, platform_data: HashMap<String, OwnedVariant>) {
        let token = token_from_platform_data(&strings(&platform_data));
        let uris = sanitize_uris(uris);
        if uris.is_empty() {
            (self.on_request)(Request::Activate { token });
        } else {
            (self.on_request)(Request::Open { uris, token });
        }
    }

    /// `hide` hides the window to the tray; any other action brings it forward.
    fn activate_action(
        &self,
        action_name: String,
        _parameter: Vec<OwnedVariant>,
        platform_data: HashMap<String, OwnedVariant>,
    ) {
        if action_name == "hide" {
            (self.on_request)(Request::Hide);
        } else {
            let token = token_from_platform_data(&strings(&platform_data));
            (self.on_request)(Request::Activate { token });
        }
    }
}

/// The session bus, or the bus at `address` (an invalid address is reported by `build`).
fn builder(address: Option<&str>) -> zbus::connection::Builder<'static> {
    match address {
        Some(a) => zbus::connection::Builder::address(a),
        None => zbus::connection::Builder::session(),
    }
}

/// Own `app_id` on the session bus (`address`: another bus, for tests) and answer
/// `org.freedesktop.Application` with `on_request`, until the [`Service`] is dropped.
/// [`ActivationError::NameTaken`] when another process already owns the name.
pub fn serve(
    app_id: &str,
    address: Option<&str>,
    on_request: OnRequest,
) -> Result<Service, ActivationError> {
    let path = object_path(app_id);
    let built = builder(address)
        .name(app_id.to_owned())
        .replace_existing_names(false)
        .allow_name_replacements(false)
        .serve_at(path, Application { on_request })
        .build();
    match block_on(built) {
        Ok(connection) => Ok(Service {
            _connection: connection,
            app_id: app_id.to_owned(),
        }),
        Err(zbus::Error::NameTaken) => Err(ActivationError::NameTaken),
        Err(e @ (zbus::Error::Address(_) | zbus::Error::InputOutput(_))) => {
            Err(ActivationError::NoBus(e.to_string()))
        }
        Err(e) => Err(ActivationError::Bus(e.to_string())),
    }
}

/// Ask the running app (`app_id` on the session bus, or on `address`) to handle `request`,
/// waiting at most `timeout` for its answer. [`ActivationError::NoInstance`] when nobody owns
/// the name and D-Bus cannot start it.
pub fn forward(
    app_id: &str,
    address: Option<&str>,
    request: &Request,
    timeout: Duration,
) -> Result<(), ActivationError> {
    let started = Instant::now();
    let connection: Connection = block_on(builder(address).method_timeout(timeout).build())
        .map_err(|e| ActivationError::NoBus(e.to_string()))?;
    let path = object_path(app_id);
    let reply = match request {
        Request::Activate { token } => block_on(connection.call_method(
            Some(app_id),
            path.as_str(),
            Some(INTERFACE),
            "Activate",
            &(platform_data(token),),
        )),
        Request::Hide => block_on(connection.call_method(
            Some(app_id),
            path.as_str(),
            Some(INTERFACE),
            "ActivateAction",
            &("hide", Vec::<Variant<'_>>::new(), platform_data(&None)),
        )),
        Request::Open { uris, token } => block_on(connection.call_method(
            Some(app_id),
            path.as_str(),
            Some(INTERFACE),
            "Open",
            &(uris, platform_data(token)),
        )),
    };
    match reply {
        Ok(_) => Ok(()),
        Err(zbus::Error::FDO(e))
            if matches!(
                *e,
                fdo::Error::ServiceUnknown(_) | fdo::Error::NameHasNoOwner(_)
            ) =>
        {
            Err(ActivationError::NoInstance)
        }
        Err(_) if started.elapsed() >= timeout => Err(ActivationError::Timeout(timeout)),
        Err(e) => Err(ActivationError::Bus(e.to_string())),
    }
}

/// The `platform-data` of a call: the activation token under both names launchers use.
fn platform_data(token: &Option<String>) -> HashMap<&'static str, Variant<'_>> {
    token
        .iter()
        .flat_map(|t| {
            [
                ("activation-token", Variant::from(t.as_str())),
                ("desktop-startup-id", Variant::from(t.as_str())),
            ]
        })
        .collect()
}
