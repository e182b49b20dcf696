import CYAML

/// A node of a YAML document as libyaml composes it, with where it starts. Scalars are kept as written
/// (no type resolution): ScopeGate's loaders decide what each value must be.
enum YAMLNode {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    /// A position in the file, 1-based.
    struct Mark {
        let line: Int
        let column: Int
    }

    struct Scalar {
        enum Style {
            /// Written without quotes or block indicators: the only style in which `true`, `~` or `null` mean
            /// something other than their text.
            case plain
            case quoted
            case block
        }

        let string: String
        let style: Style
        let mark: Mark
    }

    struct Mapping: Swift.Sequence {
        let pairs: [(key: YAMLNode, value: YAMLNode)]
        let mark: Mark

        func makeIterator() -> IndexingIterator<[(key: YAMLNode, value: YAMLNode)]> { pairs.makeIterator() }
    }

    struct Sequence: Swift.Sequence {
        let items: [YAMLNode]
        let mark: Mark

        func makeIterator() -> IndexingIterator<[YAMLNode]> { items.makeIterator() }
    }

    var mark: Mark {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }

    var scalar: Scalar? {
        if case .scalar(let scalar) = self { scalar } else { nil }
    }

    /// Why a text is not one YAML document ScopeGate can read.
    struct Failure: Error {
        let message: String
        let mark: Mark?
    }

    /// The deepest nesting of lists and mappings accepted (ScopeGate's files need four levels).
    static let maximumDepth = 64

    /// Composes the single document in `text`; `nil` when the text holds no document.
    static func compose(_ text: String) throws(Failure) -> YAMLNode? {
        let bytes = Array(text.utf8)
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let document = UnsafeMutablePointer<yaml_document_t>.allocate(capacity: 1)
        defer {
            unsafe parser.deallocate()
            unsafe document.deallocate()
        }
        guard unsafe yaml_parser_initialize(parser) == 1 else { throw Failure(message: "cannot start the YAML parser", mark: nil) }
        defer { unsafe yaml_parser_delete(parser) }
        return unsafe try bytes.withUnsafeBufferPointer { (buffer: UnsafeBufferPointer<UInt8>) throws(Failure) -> YAMLNode? in
            unsafe yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            guard unsafe yaml_parser_load(parser, document) == 1 else { throw unsafe failure(of: parser) }
            defer { unsafe yaml_document_delete(document) }
            guard let root = unsafe yaml_document_get_root_node(document) else { return nil }
            var converter = unsafe Converter(document: document)
            let node = unsafe try converter.convert(root, depth: 0)
            // A second document would be ignored silently; refuse it instead.
            let next = UnsafeMutablePointer<yaml_document_t>.allocate(capacity: 1)
            defer { unsafe next.deallocate() }
            guard unsafe yaml_parser_load(parser, next) == 1 else { throw unsafe failure(of: parser) }
            // The mark is read before the document (which owns the node) is deleted.
            let another = unsafe yaml_document_get_root_node(next).map { unsafe mark($0.pointee.start_mark) }
            unsafe yaml_document_delete(next)
            if let another { throw Failure(message: "the file holds more than one YAML document", mark: another) }
            return node
        }
    }

    private static func failure(of parser: UnsafeMutablePointer<yaml_parser_t>) -> Failure {
        let problem = unsafe parser.pointee.problem.map { unsafe String(cString: $0) } ?? "unreadable input"
        let context = unsafe parser.pointee.context.map { unsafe String(cString: $0) }
        let message = context.map { "\(problem) (\($0))" } ?? problem
        return unsafe Failure(message: message, mark: mark(parser.pointee.problem_mark))
    }

    fileprivate static func mark(_ mark: yaml_mark_t) -> Mark {
        Mark(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    /// Turns libyaml's node table into nodes; an alias shares the node it names.
    @safe private struct Converter {
        let document: UnsafeMutablePointer<yaml_document_t>
        var done: [Int: YAMLNode] = [:]

        mutating func convert(_ node: UnsafeMutablePointer<yaml_node_t>, depth: Int) throws(Failure) -> YAMLNode {
            let mark = unsafe YAMLNode.mark(node.pointee.start_mark)
            guard depth < YAMLNode.maximumDepth else {
                throw Failure(message: "lists and mappings nested more than \(YAMLNode.maximumDepth) deep", mark: mark)
            }
            switch unsafe node.pointee.type {
            case YAML_SCALAR_NODE:
                let data = unsafe node.pointee.data.scalar
                let text = unsafe String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
                let style: Scalar.Style =
                    switch unsafe data.style {
                    case YAML_PLAIN_SCALAR_STYLE: .plain
                    case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: .block
                    default: .quoted
                    }
                return .scalar(Scalar(string: text, style: style, mark: mark))
            case YAML_SEQUENCE_NODE:
                var items: [YAMLNode] = []
                var item = unsafe node.pointee.data.sequence.items.start
                while let current = unsafe item, unsafe current != node.pointee.data.sequence.items.top {
                    unsafe items.append(try child(Int(current.pointee), depth: depth))
                    unsafe item = unsafe current + 1
                }
                return .sequence(Sequence(items: items, mark: mark))
            case YAML_MAPPING_NODE:
                var pairs: [(key: YAMLNode, value: YAMLNode)] = []
                var seen = Set<String>()
                var pair = unsafe node.pointee.data.mapping.pairs.start
                while let current = unsafe pair, unsafe current != node.pointee.data.mapping.pairs.top {
                    let key = unsafe try child(Int(current.pointee.key), depth: depth)
                    if let name = key.scalar?.string, !seen.insert(name).inserted {
                        throw Failure(message: "key \"\(name)\" appears more than once in this mapping", mark: key.mark)
                    }
                    unsafe pairs.append((key, try child(Int(current.pointee.value), depth: depth)))
                    unsafe pair = unsafe current + 1
                }
                return .mapping(Mapping(pairs: pairs, mark: mark))
            default:
                throw Failure(message: "empty node", mark: mark)
            }
        }

        private mutating func child(_ index: Int, depth: Int) throws(Failure) -> YAMLNode {
            if let converted = done[index] { return converted }
            guard let node = unsafe yaml_document_get_node(document, Int32(index)) else {
                throw Failure(message: "broken alias", mark: nil)
            }
            let converted = unsafe try convert(node, depth: depth + 1)
            done[index] = converted
            return converted
        }
    }
}
