//! [`Sensitive`]: a value that must not be printed, logged or serialized.

/// A secret value. It has no `Debug`, `Display` or `Serialize`, so it cannot be formatted into
/// logs, errors or wire types by accident; read it with [`Sensitive::expose`].
// No Debug on purpose: a derived or hand-written Debug is exactly the leak this type prevents.
#[allow(missing_debug_implementations)]
#[derive(Clone)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Sensitive<T> {
        Sensitive(value)
    }

    /// The secret itself. Every call site is a place where the secret leaves its wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwrap the secret (to hand it to an HTTP client, for example).
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Sensitive<T> {
        Sensitive(value)
    }
}

/// Compile-time guard: the build fails if `Sensitive` ever gains `Debug` or `Display`.
/// (An inherent associated const whose bounds do not hold is skipped, so the blanket trait's
/// `false` is used instead.)
mod not_formattable {
    use super::Sensitive;
    use std::marker::PhantomData;

    trait Fallback {
        const DEBUG: bool = false;
        const DISPLAY: bool = false;
    }
    impl<T: ?Sized> Fallback for T {}
    struct IsDebug<T: ?Sized>(PhantomData<T>);
    impl<T: ?Sized + std::fmt::Debug> IsDebug<T> {
        const DEBUG: bool = true;
    }
    struct IsDisplay<T: ?Sized>(PhantomData<T>);
    impl<T: ?Sized + std::fmt::Display> IsDisplay<T> {
        const DISPLAY: bool = true;
    }

    // The probes themselves work...
    const _: () = assert!(IsDebug::<String>::DEBUG && IsDisplay::<String>::DISPLAY);
    // ...and a secret has neither.
    const _: () = assert!(!IsDebug::<Sensitive<String>>::DEBUG);
    const _: () = assert!(!IsDisplay::<Sensitive<String>>::DISPLAY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_gives_the_value_back() {
        let s = Sensitive::from(String::from("tok"));
        assert_eq!(s.clone().into_exposed(), "tok");
        assert_eq!(s.expose(), "tok");
    }
}
