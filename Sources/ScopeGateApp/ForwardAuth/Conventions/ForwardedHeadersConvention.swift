/// Traefik `forwardAuth` and Caddy `forward_auth`: the original request in `X-Forwarded-Method`,
/// `X-Forwarded-Uri`, `X-Forwarded-Host` and `X-Forwarded-Proto`.
struct ForwardedHeadersConvention: ProxyConvention {
    var fields: ForwardedFields {
        ForwardedFields(method: "X-Forwarded-Method", target: "X-Forwarded-Uri", host: "X-Forwarded-Host", scheme: "X-Forwarded-Proto")
    }
}
