/// nginx `auth_request`: a subrequest to `/auth` with the original request in `X-Original-URI` and
/// `X-Original-Method` (set in the recipe: `proxy_set_header X-Original-URI $request_uri;`).
struct NginxConvention: ProxyConvention {
    var fields: ForwardedFields { ForwardedFields(method: "X-Original-Method", target: "X-Original-URI") }
}
