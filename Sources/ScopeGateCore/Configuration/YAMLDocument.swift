import Yams

/// Walks a YAML document and collects compiler-style diagnostics, so a loader reports every problem at once.
struct YAMLDocument {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    /// Parses `text` into a node tree, or records why it cannot.
    mutating func root(of text: String) -> Node? {
        do {
            // The basic resolver: ScopeGate reads scalars as written, so the default rules (regular expressions) would
            // only cost start-up time and memory.
            guard let node = try Yams.compose(yaml: text, .basic) else {
                error(at: nil, "the file is empty")
                return nil
            }
            return node
        } catch let error as YamlError {
            record(error)
        } catch {
            self.error(at: nil, "cannot read YAML: \(error)")
        }
        return nil
    }

    mutating func error(at node: Node?, _ message: String) {
        let mark = node?.mark
        diagnostics.append(Diagnostic(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    /// The members of a mapping, refusing duplicate and unknown keys. `nil` when `node` is not a mapping.
    mutating func members(of node: Node, what: String, allowed: [String]) -> [String: (key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(at: node, "\(what) must be a mapping")
            return nil
        }
        var result: [String: (key: Node, value: Node)] = [:]
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
    mutating func string(_ node: Node, what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(at: node, "\(what) must be a string")
            return nil
        }
        return scalar.string
    }

    /// `true` or `false`, spelled exactly so.
    mutating func bool(_ node: Node, what: String) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, ["true", "false"].contains(scalar.string) else {
            error(at: node, "\(what) must be true or false")
            return nil
        }
        return scalar.string == "true"
    }

    /// A list of strings (`[a, b]` or a block list).
    mutating func strings(_ node: Node, what: String) -> [(String, Node)]? {
        guard case .sequence(let sequence) = node else {
            error(at: node, "\(what) must be a list")
            return nil
        }
        var values: [(String, Node)] = []
        for item in sequence {
            guard case .scalar(let scalar) = item else {
                error(at: item, "\(what) must contain only strings")
                continue
            }
            values.append((scalar.string, item))
        }
        return values
    }

    private mutating func record(_ yamlError: YamlError) {
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            diagnostics.append(Diagnostic(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)"))
        case .composer(_, let problem, let mark, _):
            diagnostics.append(Diagnostic(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)"))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            diagnostics.append(Diagnostic(file: file, line: context.mark.line, column: context.mark.column,
                                          message: "key \(names) appears more than once in this mapping"))
        default:
            diagnostics.append(Diagnostic(file: file, line: 1, column: 1, message: "invalid YAML: \(yamlError)"))
        }
    }
}
