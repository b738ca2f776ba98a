//! `get_ref` / `get_mut` / `into_inner`, written once for every Seawall service.

/// Gives a service the three accessors of its inner service that every tower middleware
/// has: `get_ref`, `get_mut` and `into_inner`.
///
/// `inner_accessors!(Retry<S, P>, inner: S);` writes them for the field `inner` of type `S`
/// of `Retry<S, P>`. The type may not implement `Drop` (`into_inner` moves the field out).
///
/// ```
/// #[derive(Debug)]
/// pub struct Logged<S> {
///     inner: S,
/// }
/// seawall_core::inner_accessors!(Logged<S>, inner: S);
///
/// let mut logged = Logged { inner: 1 };
/// *logged.get_mut() += 1;
/// assert_eq!(*logged.get_ref(), 2);
/// assert_eq!(logged.into_inner(), 2);
/// ```
#[macro_export]
macro_rules! inner_accessors {
    ($ty:ident < $($param:ident),* >, $field:ident : $inner:ty) => {
        impl<$($param),*> $ty<$($param),*> {
            /// The inner service.
            pub fn get_ref(&self) -> &$inner {
                &self.$field
            }

            /// The inner service, mutably.
            pub fn get_mut(&mut self) -> &mut $inner {
                &mut self.$field
            }

            /// Unwraps the inner service.
            pub fn into_inner(self) -> $inner {
                self.$field
            }
        }
    };
}
