//! A call's route, as span names and metric labels: its service and
//! method, taken from a fixed table of what tenantd serves. A path tenantd
//! does not serve is `_OTHER` throughout (the OpenTelemetry conventions'
//! word): paths are the caller's to choose, and backends group by these
//! names, so no caller may mint new ones.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::access::methods::METHODS;
use crate::common::otel::OTHER;

/// A call's service and method as labels: one of the routes tenantd
/// serves, or `unknown` for any other path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// The fully qualified service, e.g. `tenantd.v1.TenantService`.
    pub(crate) service: &'static str,
    /// The method, e.g. `GetTenant`.
    pub(crate) method: &'static str,
    /// `tenantd.v1.TenantService/GetTenant`: the span's name.
    pub(crate) full: &'static str,
    /// Its place in the table, below [`Route::count`].
    pub(crate) index: usize,
}

/// The services open to everyone, with their methods.
const OPEN_SERVICES: &[(&str, &[&str])] = &[
    ("grpc.health.v1.Health", &["Check", "Watch", "List"]),
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
        let path = leak(format!("/{service}/{method}"));
        let route = Route {
            service,
            method,
            full: &path[1..],
            index,
        };
        routes.insert(path, route);
    }
    routes
});

impl Route {
    /// The route of `path`.
    pub(crate) fn of(path: &str) -> Route {
        ROUTES.get(path).copied().unwrap_or(Route {
            service: OTHER,
            method: OTHER,
            full: OTHER,
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
    fn a_served_method_is_named_by_its_service_and_method() {
        let route = Route::of("/tenantd.v1.TenantService/GetTenant");
        assert_eq!(
            (route.service, route.method, route.full),
            (
                "tenantd.v1.TenantService",
                "GetTenant",
                "tenantd.v1.TenantService/GetTenant"
            )
        );
        assert_eq!(
            Route::of("/envoy.service.auth.v3.Authorization/Check").full,
            "envoy.service.auth.v3.Authorization/Check"
        );
        assert_eq!(Route::of("/grpc.health.v1.Health/Check").method, "Check");
        assert!(Route::of("/grpc.health.v1.Health/List").index < Route::count() - 1);
    }

    #[test]
    fn an_unknown_method_is_other() {
        for path in [
            "/tenantd.v1.TenantService/NoSuchMethod",
            "/tenantd.v1.NoSuchService/GetTenant",
            "/grpc.health.v1.Health/Made-Up",
            "/",
            "",
            "no-slash",
        ] {
            let route = Route::of(path);
            assert_eq!(
                (route.service, route.method, route.full),
                (OTHER, OTHER, OTHER),
                "{path}"
            );
            assert_eq!(route.index, Route::count() - 1);
        }
    }
}
