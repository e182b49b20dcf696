extension Serve {
    /// The options `SCOPEGATE_*` variables may set, and whether each is a flag (with its `--no-` form).
    static let environmentOptions: [(name: String, flag: Bool)] = [
        ("host", false), ("port", false), ("policy", false), ("users", false), ("secret-file", false), ("keys", false), ("clients", false), ("store", false),
        ("state-dir", false), ("store-timeout", false), ("on-store-loss", false), ("docs-assets", false), ("session-idle", false), ("session-lifetime", false),
        ("session-domain", false),
        ("refresh-token-lifetime", false),
        ("refresh-token-idle", false),
        ("refresh-reuse-grace", false), ("demo", true),
        ("token-lifetime", false), ("leeway", false), ("trusted-proxies", false), ("challenge", false), ("bcrypt-cost", false),
        ("threads", false), ("login-queue", false), ("login-max-wait", false), ("login-nice", false),
        ("regulate-after-pair", false), ("regulate-after-address", false), ("regulate-after-user", false),
        ("regulation-first-ban", false), ("regulation-max-ban", false), ("regulation-max-user-ban", false),
        ("regulation-window", false), ("max-connections-per-ip", false), ("connection-timeout", false), ("max-request-head", false), ("log-level", false),
        ("log-format", false), ("access-log", true), ("watch", true), ("metrics-address", false), ("issuer", false), ("audience", false),
    ]

    /// `SCOPEGATE_SECRET_FILE=/run/secret` → `--secret-file /run/secret`, for each option the command line does
    /// not give. Flags take true/false (also 1/0, yes/no, on/off).
    static func environmentArguments(commandLine: [String], environment: [String: String]) -> [String] {
        var arguments: [String] = []
        for (name, isFlag) in environmentOptions {
            let variable = "SCOPEGATE_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
            guard let value = environment[variable] else { continue }
            let given = commandLine.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") || $0 == "--no-\(name)" }
            if given { continue }
            if isFlag {
                switch value.lowercased() {
                case "1", "true", "yes", "on": arguments.append("--\(name)")
                case "0", "false", "no", "off", "": if name != "demo" { arguments.append("--no-\(name)") }
                default: arguments += ["--\(name)=\(value)"]  // refused by the parser with the option's name
                }
            } else {
                arguments.append("--\(name)=\(value)")
            }
        }
        return arguments
    }
}
