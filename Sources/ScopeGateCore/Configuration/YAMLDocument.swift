/// Walks a YAML document and collects compiler-style diagnostics, so a loader reports every problem at once.
struct YAMLDocument {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    /// Parses `text` into a node tree, or records why it cannot.
    mutating func root(of text: String) -> YAMLNode? {
        do {
            guard let node = try YAMLNode.compose(text) else {
                error(at: nil, "the file is empty")
                return nil
            }
            return node
        } catch {
            diagnostics.append(
                Diagnostic(
                    file: file, line: error.mark?.line ?? 1, column: error.mark?.column ?? 1,
                    message: "invalid YAML: \(error.message)"))
        }
        return nil
    }

    mutating func error(line: Int, column: Int, _ message: String) {
        diagnostics.append(Diagnostic(file: file, line: line, column: column, message: message))
    }

    mutating func error(at node: YAMLNode?, _ message: String) {
        let mark = node?.mark
        diagnostics.append(Diagnostic(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    /// The members of a mapping, refusing duplicate and unknown keys. `nil` when `node` is not a mapping.
    mutating func members(of node: YAMLNode, what: String, allowed: [String]) -> [String: (key: YAMLNode, value: YAMLNode)]? {
        guard case .mapping(let mapping) = node else {
            error(at: node, "\(what) must be a mapping")
            return nil
        }
        var result: [String: (key: YAMLNode, value: YAMLNode)] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                error(at: key, "\(what): keys must be plain strings")
                continue
            }
            if !allowed.isEmpty && !allowed.contains(name) {
                error(at: key, "\(what): unknown key \"\(name)\"; expected one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
                continue
            }
            if result[name] != nil {
                error(at: key, "\(what): key \"\(name)\" appears more than once")
                continue
            }
            result[name] = (key, value)
        }
        return result
    }

    /// A scalar's text, or an error when the node is a list or mapping.
    mutating func string(_ node: YAMLNode, what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(at: node, "\(what) must be a string")
            return nil
        }
        return scalar.string
    }

    /// `true` or `false`, spelled exactly so.
    mutating func bool(_ node: YAMLNode, what: String) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, ["true", "false"].contains(scalar.string) else {
            error(at: node, "\(what) must be true or false")
            return nil
        }
        return scalar.string == "true"
    }

    /// A list of strings (`[a, b]` or a block list).
    mutating func strings(_ node: YAMLNode, what: String) -> [(String, YAMLNode)]? {
        guard case .sequence(let sequence) = node else {
            error(at: node, "\(what) must be a list")
            return nil
        }
        var values: [(String, YAMLNode)] = []
        for item in sequence {
            guard case .scalar(let scalar) = item else {
                error(at: item, "\(what) must contain only strings")
                continue
            }
            values.append((scalar.string, item))
        }
        return values
    }

    /// The records of a file whose one top-level key maps names to records (`users:`, `clients:`), each
    /// built by `load` from its name and value; an empty or null mapping holds none.
    mutating func namedRecords<Record>(
        in root: YAMLNode, key: String, file what: String, entry: String, load: (YAMLNode, YAMLNode, inout YAMLDocument) -> Record?
    ) -> [Record] {
        var records: [Record] = []
        guard let top = members(of: root, what: what, allowed: [key]) else { return records }
        guard let node = top[key]?.value else {
            error(at: root, "the \(what) has no \"\(key)\" mapping")
            return records
        }
        if case .mapping(let mapping) = node {
            for (name, value) in mapping {
                if let record = load(name, value, &self) { records.append(record) }
            }
        } else if !(node.scalar.map { $0.style == .plain && ["", "~", "null"].contains($0.string) } ?? false) {
            error(at: node, "\"\(key)\" must be a mapping from \(entry)")
        }
        return records
    }
}
