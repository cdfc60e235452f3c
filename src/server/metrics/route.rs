//! A call's route as metric labels: its service and method, taken from a
//! fixed table of what tenantd serves, so no caller can make up label
//! values by calling made-up paths.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::access::methods::METHODS;

/// A call's service and method as labels: one of the routes tenantd
/// serves, or `unknown` for any other path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// The fully qualified service, e.g. `tenantd.v1.TenantService`.
    pub(crate) service: &'static str,
    /// The method, e.g. `GetTenant`.
    pub(crate) method: &'static str,
    /// Its place in the table, below [`Route::count`].
    pub(crate) index: usize,
}

/// The services open to everyone, with their methods.
const OPEN_SERVICES: &[(&str, &[&str])] = &[
    ("grpc.health.v1.Health", &["Check", "Watch"]),
    (
        "grpc.reflection.v1.ServerReflection",
        &["ServerReflectionInfo"],
    ),
    (
        "grpc.reflection.v1alpha.ServerReflection",
        &["ServerReflectionInfo"],
    ),
];

/// Every route by its path, made once: the strings live for the process.
static ROUTES: LazyLock<HashMap<&'static str, Route>> = LazyLock::new(|| {
    let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    let mut routes = HashMap::new();
    let served = METHODS
        .iter()
        .map(|rule| (leak(rule.full_service()), rule.method));
    let open = OPEN_SERVICES
        .iter()
        .flat_map(|(service, methods)| methods.iter().map(move |method| (*service, *method)));
    for (index, (service, method)) in served.chain(open).enumerate() {
        let route = Route {
            service,
            method,
            index,
        };
        routes.insert(leak(format!("/{service}/{method}")), route);
    }
    routes
});

impl Route {
    /// The route of `path`.
    pub(crate) fn of(path: &str) -> Route {
        ROUTES.get(path).copied().unwrap_or(Route {
            service: "unknown",
            method: "unknown",
            index: ROUTES.len(),
        })
    }

    /// How many indexes there are: every route, and one for unknown paths.
    pub(crate) fn count() -> usize {
        ROUTES.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_paths_are_labelled_by_service_and_method_and_others_are_unknown() {
        let route = Route::of("/tenantd.v1.TenantService/GetTenant");
        assert_eq!(
            (route.service, route.method),
            ("tenantd.v1.TenantService", "GetTenant")
        );
        let route = Route::of("/grpc.health.v1.Health/Check");
        assert_eq!(
            (route.service, route.method),
            ("grpc.health.v1.Health", "Check")
        );
        let route = Route::of("/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit");
        assert_eq!(route.method, "ShouldRateLimit");
        for made_up in ["/tenantd.v1.TenantService/Nope", "/x/y", "", "/"] {
            let route = Route::of(made_up);
            assert_eq!((route.service, route.method), ("unknown", "unknown"));
        }
    }
}
