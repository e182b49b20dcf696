import ArgumentParser
import ScopeGateStore

/// Where the store is, as `serve` finds it: the options of the commands that change it while it runs
/// (`scopegate revoke`, `scopegate users`).
struct StoreOptions: ParsableArguments {
    @Option(help: "The store: sqlite:PATH or postgres://…, as serve --store (default: scopegate.db in --state-dir).")
    var store: String?

    @Option(name: .customLong("state-dir"), help: "The folder of the default store, as serve --state-dir (default: the working directory).")
    var stateDir: String?

    func open() throws -> any StateStore {
        try Serve.openStore(store ?? "sqlite:\(Serve.stateFolder(stateDir))/scopegate.db")
    }
}
