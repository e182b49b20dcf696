/// ingress-nginx `auth-url`: the original request as `X-Original-URL` (`$scheme://$http_host$request_uri`,
/// absolute form: scheme, host and target in one) and `X-Original-Method` (read as nginx's); with
/// `auth-method` set it also sends `X-Original-URI`, which must describe the same target.
struct IngressNginxConvention: ProxyConvention {
    var fields: ForwardedFields { ForwardedFields(target: "X-Original-URL") }
}
